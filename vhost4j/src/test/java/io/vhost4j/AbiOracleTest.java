package io.vhost4j;

import io.vhost4j.internal.gen.VhostH;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.PaddingLayout;
import java.lang.foreign.StructLayout;
import java.lang.reflect.Method;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Compares every size, alignment, field offset and constant of the jextract bindings with what gcc makes
 * of the same kernel headers ({@code native/abi-oracle.c}): the uapi headers committed in {@code headers/linux}
 * (vhost, vduse and vdpa from linux-libc-dev 6.12, the rest from 6.1) first, the system's for the others
 * (netlink, sockets, libc). Without gcc or the system headers it skips, except under CI ({@code CI=true}),
 * where it fails.
 */
class AbiOracleTest {
    private static final String GEN = "io.vhost4j.internal.gen";
    private static final Map<String, Long> ORACLE = new LinkedHashMap<>();
    /** The committed uapi headers jextract reads (the test runs in vhost4j/). */
    private static final String HEADERS = "../headers";

    @BeforeAll
    static void runOracle() throws Exception {
        Path src = Path.of("../native/abi-oracle.c"); // the test runs in vhost4j/
        Path exe = Path.of("target/abi-oracle");
        boolean ci = "true".equals(System.getenv("CI"));
        boolean haveHeader = Files.exists(Path.of("/usr/include/linux/vhost.h"));
        boolean haveGcc = Stream.of(System.getenv("PATH").split(":")).anyMatch(d -> Files.isExecutable(
                Path.of(d, "gcc")));
        if (!(haveHeader && haveGcc)) {
            if (ci) {
                fail("ABI oracle needs gcc and <linux/vhost.h> (apt-get install gcc linux-libc-dev)");
            }
            assumeTrue(false, "gcc or <linux/vhost.h> missing: ABI oracle skipped");
        }
        Files.createDirectories(exe.getParent());
        run(List.of("gcc", "-std=gnu11", "-Wall", "-Werror", "-I", HEADERS, "-o", exe.toString(), src.toString()));
        for (String line : run(List.of(exe.toString()))) {
            String[] p = line.split(" ");
            ORACLE.put(p[0] + " " + p[1], Long.parseLong(p[2]));
        }
        assertTrue(ORACLE.size() > 400, "oracle printed only " + ORACLE.size() + " facts");
    }

    private static List<String> run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        List<String> out = new String(p.getInputStream().readAllBytes()).lines().toList();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), cmd + " timed out");
        assertEquals(0, p.exitValue(), cmd + " failed:\n" + String.join("\n", out));
        return out;
    }

    /** Names of the generated struct/union classes (top level, not the header class). */
    private static List<String> generatedTypes() throws Exception {
        Path loc = Path.of(VhostH.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        List<String> names = new ArrayList<>();
        try (FileSystem jar = Files.isDirectory(loc) ? null : FileSystems.newFileSystem(loc)) {
            Path dir = (jar == null ? loc : jar.getPath("/")).resolve(GEN.replace('.', '/'));
            try (Stream<Path> files = Files.list(dir)) {
                files.map(f -> f.getFileName().toString())
                        .filter(n -> n.endsWith(".class") && !n.contains("$") && !n.startsWith("VhostH")
                                && !n.startsWith("package-info"))
                        .map(n -> n.substring(0, n.length() - ".class".length()))
                        .forEach(names::add);
            }
        }
        return names;
    }

    private static GroupLayout layoutOf(String type) throws Exception {
        return (GroupLayout) Class.forName(GEN + "." + type).getMethod("layout").invoke(null);
    }

    /** Offsets of every named member at any depth; C anonymous members ({@code $anon$}) are transparent. */
    private static void offsets(GroupLayout g, String prefix, long base, Map<String, Long> out, List<String> top) {
        long off = base;
        for (MemoryLayout m : g.memberLayouts()) {
            if (!(m instanceof PaddingLayout)) {
                String name = m.name().orElse("$anon$");
                if (name.startsWith("$anon$")) {
                    offsets((GroupLayout) m, prefix, off, out, top);
                } else {
                    out.put(prefix + "." + name, off);
                    if (top != null) {
                        top.add(prefix + "." + name);
                    }
                    if (m instanceof GroupLayout inner) {
                        offsets(inner, prefix + "." + name, off, out, null);
                    }
                }
            }
            if (g instanceof StructLayout) {
                off += m.byteSize();
            }
        }
    }

    @Test
    void everyStructHasTheSizeAlignmentAndOffsetsGccGives() throws Exception {
        List<String> types = generatedTypes();
        assertTrue(types.contains("vhost_msg_v2") && types.contains("vhost_vring_addr"), types.toString());
        TreeSet<String> oracleTypes = new TreeSet<>();
        ORACLE.keySet().stream().filter(k -> k.startsWith("size ")).forEach(k -> oracleTypes.add(k.substring(5)));
        assertEquals(oracleTypes, new TreeSet<>(types), "oracle and bindings cover different types");
        List<String> mismatches = new ArrayList<>();
        int checked = 0;
        for (String t : types) {
            GroupLayout g = layoutOf(t);
            checked += compare(mismatches, "size " + t, g.byteSize());
            checked += compare(mismatches, "align " + t, g.byteAlignment());
            Map<String, Long> javaOffsets = new LinkedHashMap<>();
            List<String> top = new ArrayList<>();
            offsets(g, t, 0, javaOffsets, top);
            for (String field : top) {
                if (!ORACLE.containsKey("offset " + field)) {
                    mismatches.add("field " + field + " is in the bindings but not in native/abi-oracle.c");
                }
            }
            for (var e : ORACLE.entrySet()) {
                if (e.getKey().startsWith("offset " + t + ".")) {
                    String field = e.getKey().substring("offset ".length());
                    Long java = javaOffsets.get(field);
                    checked++;
                    if (java == null || java.longValue() != e.getValue()) {
                        mismatches.add("offset " + field + ": gcc " + e.getValue() + ", bindings " + java);
                    }
                }
            }
        }
        assertEquals(List.of(), mismatches);
        assertTrue(checked > 150, "only " + checked + " facts compared");
    }

    private static int compare(List<String> mismatches, String key, long java) {
        Long c = ORACLE.get(key);
        if (c == null || c != java) {
            mismatches.add(key + ": gcc " + c + ", bindings " + java);
        }
        return 1;
    }

    @Test
    void everyConstantAndIoctlNumberMatches() throws Exception {
        List<String> mismatches = new ArrayList<>();
        int checked = 0;
        for (var e : ORACLE.entrySet()) {
            if (!e.getKey().startsWith("const ")) {
                continue;
            }
            String name = e.getKey().substring("const ".length());
            Method m = VhostH.class.getMethod(name);
            Object v = m.invoke(null);
            long c = e.getValue();
            boolean same = v instanceof Integer i ? i == (int) c : ((Number) v).longValue() == c;
            checked++;
            if (!same) {
                mismatches.add(name + ": gcc " + c + " (0x" + Long.toHexString(c) + "), bindings " + v);
            }
        }
        assertEquals(List.of(), mismatches);
        // Spot checks against KERNEL-NOTES.md, so that a broken oracle cannot pass silently.
        assertEquals(0xAF, VhostH.VHOST_VIRTIO());
        assertEquals(0x4008AF03L, VhostH.VHOST_SET_MEM_TABLE());
        assertTrue(checked > 300, "only " + checked + " constants compared");
    }

    @Test
    void everyVhostAndVduseMacroOfTheKernelHeadersIsInTheOracleAndTheBindings() throws Exception {
        List<String> macros = run(List.of("sh", "-c", "gcc -I " + HEADERS + " -dM -E -include linux/vhost.h"
                + " -include linux/vduse.h - </dev/null | awk '$2 ~ /^(VHOST|VDUSE)_[A-Z0-9_]*$/ {print $2}'"));
        assertTrue(macros.size() >= 90, "only " + macros.size() + " VHOST_/VDUSE_ macros: " + macros);
        List<String> missing = new ArrayList<>();
        for (String macro : macros) {
            if (!ORACLE.containsKey("const " + macro)) {
                missing.add(macro);
            }
        }
        assertEquals(List.of(), missing, "VHOST_*/VDUSE_* macros of <linux/vhost.h>/<linux/vduse.h> missing from the oracle/bindings");
    }
}
