package io.vhost4j.kernel;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * What users install, run as they would: the vhostctl distribution unpacked into a fresh directory and run from
 * there with no JDK on the PATH, and the embedding example built against the installed jars. ci/kernel-suite
 * passes their locations ({@code vhost4j.dist}, {@code vhost4j.example}).
 */
@Tag("kernel")
class ProductKernelTest {

    @BeforeEach
    void device() {
        KernelDevices.requireNet();
    }

    record Run(int code, String output) {}

    /** Runs {@code command} in {@code dir} with a minimal environment: no JAVA_HOME, no JDK on the PATH. */
    private static Run run(Path dir, List<String> command) throws IOException, InterruptedException {
        return finish(start(dir, command), command);
    }

    private static Run finish(Process p, List<String> command) throws IOException, InterruptedException {
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(900, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail("timed out: " + command);
        }
        return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    /** Starts {@code command} as {@link #run} runs it, without waiting. */
    private static Process start(Path dir, List<String> command) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
        Map<String, String> env = pb.environment();
        String emulatorOpts = env.get("VHOSTCTL_JAVA_OPTS"); // set by ci/vm-run only, for its emulator
        env.clear();
        env.put("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        env.put("LANG", "C.UTF-8");
        if (emulatorOpts != null) {
            env.put("VHOSTCTL_JAVA_OPTS", emulatorOpts);
        }
        return pb.start();
    }

    /** The distribution unpacked into a fresh directory anyone may read; returns its {@code bin/vhostctl}. */
    private static Path unpacked(String prefix) throws Exception {
        Path dir = Files.createTempDirectory(prefix);
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Run untar = run(dir, List.of("tar", "-xzf", required("vhost4j.dist").toString()));
        assertEquals(0, untar.code(), untar.output());
        try (var s = Files.list(dir)) {
            return s.findFirst().orElseThrow().resolve("bin/vhostctl");
        }
    }

    private static Path required(String property) {
        String v = System.getProperty(property, "");
        if (v.isEmpty() || !Files.exists(Path.of(v))) {
            fail("-D" + property + " must name the built artifact (ci/kernel-suite sets it): '" + v + "'");
        }
        return Path.of(v);
    }

    @Test
    void theDistributionRunsFromAFreshDirectoryWithoutAJdk() throws Exception {
        Path archive = required("vhost4j.dist");
        Path dir = Files.createTempDirectory("vhostctl-install");
        Run untar = run(dir, List.of("tar", "-xzf", archive.toString()));
        assertEquals(0, untar.code(), untar.output());
        Path home;
        try (var s = Files.list(dir)) {
            home = s.findFirst().orElseThrow();
        }
        Path vhostctl = home.resolve("bin/vhostctl");
        assertTrue(Files.isExecutable(vhostctl), vhostctl.toString());
        assertTrue(Files.isExecutable(home.resolve("bin/java")), "a runtime of its own");

        Run version = run(dir, List.of(vhostctl.toString(), "--version"));
        assertEquals(0, version.code(), version.output());
        assertTrue(version.output().matches("(?s)vhostctl \\d+\\.\\d+\\.\\d+.*"), version.output());

        Run probe = run(dir, List.of(vhostctl.toString(), "probe", "--json"));
        assertEquals(0, probe.code(), probe.output());
        assertTrue(probe.output().contains("\"path\": \"/dev/vhost-net\"") && probe.output().contains("\"iotlb\": true"),
                probe.output());

        Run selftest = run(dir, List.of(vhostctl.toString(), "selftest", "--frames", "100"));
        assertEquals(0, selftest.code(), selftest.output());
        assertTrue(selftest.output().contains("selftest passed"), selftest.output());
        assertFalse(selftest.output().contains("FAIL"), selftest.output());

        Path link = dir.resolve("vhostctl-link"); // installed through a symlink, as in /usr/local/bin
        Files.createSymbolicLink(link, vhostctl);
        Run viaLink = run(Path.of("/"), List.of(link.toString(), "--version"));
        assertEquals(0, viaLink.code(), viaLink.output());
    }

    @Test
    void withoutAccessToTheDeviceTheDistributionExits4WithItsHint() throws Exception {
        Path archive = required("vhost4j.dist");
        Path dir = Files.createTempDirectory("vhostctl-user");
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        assertEquals(0, run(dir, List.of("tar", "-xzf", archive.toString())).code());
        Path vhostctl;
        try (var s = Files.list(dir)) {
            vhostctl = s.findFirst().orElseThrow().resolve("bin/vhostctl");
        }
        // nobody: /dev/vhost-net is crw------- root
        Run r = run(dir, List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", vhostctl.toString(),
                "selftest"));
        assertEquals(4, r.code(), r.output());
        assertTrue(r.output().contains("EACCES") && r.output().contains("read/write access to /dev/vhost-net"),
                r.output());
    }

    @Test
    void anUnprivilegedVmmRunsTheSelftestOnDescriptorsAPrivilegedHelperPassed() throws Exception {
        Path vhostctl = unpacked("vhostctl-fdpass");
        Path sockets = Files.createTempDirectory("vmm-sockets");
        Files.setPosixFilePermissions(sockets, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
        Path socket = sockets.resolve("vmm.sock");
        // The VMM: nobody, no capability; it could not open /dev/vhost-net, /dev/net/tun or a packet socket itself.
        List<String> vmm = List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                vhostctl.toString(), "selftest", "--frames", "100", "--fds-from", socket.toString());
        Process receiver = start(sockets, vmm);
        // The helper: root opens two vhost-net devices, two taps and a packet socket on each, sends them, exits.
        Run helper = run(sockets, List.of(vhostctl.toString(), "pass-fds", "--to", socket.toString(), "--pairs", "2",
                "--packet-socket", "--tap", "vfp%d", "--timeout", "120"));
        Run r = finish(receiver, vmm);
        assertEquals(0, helper.code(), helper.output());
        assertTrue(helper.output().contains("sent 6 descriptors") && helper.output().contains("vhost-net.1"),
                helper.output());
        assertEquals(0, r.code(), "the unprivileged selftest: " + r.output());
        assertTrue(r.output().contains("selftest passed") && r.output().contains("RX, IOTLB on"), r.output());
        assertFalse(r.output().contains("FAIL"), r.output());
        assertFalse(Files.exists(socket), "the socket file is removed after the handover");
    }

    @Test
    void theEmbeddingExamplePassesTrafficFromTheVmmsOwnLoop() throws Exception {
        Path target = required("vhost4j.example");
        Path jar;
        try (var s = Files.list(target)) {
            jar = s.filter(p -> p.getFileName().toString().endsWith(".jar")).findFirst()
                    .orElseThrow(() -> new AssertionError("no example jar in " + target));
        }
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> cmd = new ArrayList<>(List.of(java));
        String emulatorOpts = System.getenv("VHOSTCTL_JAVA_OPTS");
        if (emulatorOpts != null && !emulatorOpts.isBlank()) {
            cmd.addAll(List.of(emulatorOpts.trim().split("\\s+")));
        }
        cmd.addAll(List.of("--enable-native-access=io.vhost4j,io.vhost4j.testkit,example.vmm",
                "--module-path", target.resolve("lib") + ":" + jar, "-m", "example.vmm/example.vmm.EmbeddedVmm", "200"));
        Run r = run(Files.createTempDirectory("vmm"), cmd);
        assertEquals(0, r.code(), r.output());
        assertTrue(r.output().contains("200/200 frames guest->tap, 200/200 tap->guest"), r.output());
        assertTrue(r.output().contains("embedding example passed"), r.output());
        assertFalse(r.output().contains(" 0 IOTLB misses"), "the misses were served by the VMM's loop: " + r.output());
    }

    /** One figure of {@code vhostctl bench --json} run without the C library (its C columns are null). */
    record BenchFigure(String key, double java, String unit) {}

    /** The figures of a bench's JSON output, in the order printed (a key printed twice is there twice). */
    private static List<BenchFigure> benchFigures(String json) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile(
                "\\{\\s*\"key\": \"([a-z0-9_.]+)\",\\s*\"benchmark\": \"[^\"]+\",\\s*\"java\": ([0-9.eE+-]+),"
                        + "\\s*\"c\": null,\\s*\"javaOverC\": null,\\s*\"unit\": \"([^\"]+)\"").matcher(json);
        List<BenchFigure> figures = new ArrayList<>();
        while (m.find()) {
            figures.add(new BenchFigure(m.group(1), Double.parseDouble(m.group(2)), m.group(3)));
        }
        return figures;
    }

    @Test
    void theBenchReportsItsFiguresUnderTheirStableKeys() throws Exception {
        Path vhostctl = unpacked("vhostctl-bench");
        Run r = run(vhostctl.getParent(), List.of(vhostctl.toString(), "bench", "--only", "ioctl", "--json"));
        assertEquals(0, r.code(), r.output());
        String json = r.output().substring(r.output().indexOf('{'));
        Map<String, Double> values = new java.util.LinkedHashMap<>();
        Map<String, String> units = new java.util.HashMap<>();
        for (BenchFigure f : benchFigures(json)) {
            values.put(f.key(), f.java());
            units.put(f.key(), f.unit());
        }
        String p = "ioctl.get_features.";
        assertEquals(List.of(p + "api", p + "bare_ffm", p + "bare_ffm_errno", p + "api_over_bare",
                p + "api_over_bare_errno"), List.copyOf(values.keySet()),
                "keys, in order (no C library: C is null): " + json);
        assertTrue(json.contains("\"kernel\": \"" + System.getProperty("os.version") + "\""), json);
        for (String k : List.of("api", "bare_ffm", "bare_ffm_errno")) {
            assertEquals("ns/call", units.get(p + k));
            assertTrue(values.get(p + k) > 0, k + " " + values.get(p + k));
        }
        // The ratios are of the figures above, rounded as printed.
        assertEquals(values.get(p + "api") / values.get(p + "bare_ffm"), values.get(p + "api_over_bare"), 0.01);
        assertEquals(values.get(p + "api") / values.get(p + "bare_ffm_errno"), values.get(p + "api_over_bare_errno"),
                0.01);
    }

    /**
     * Every other part of the bench, as briefly as it runs, without the C library (its figures are then null): the
     * keys a pipeline reads, in order, each once, with a positive number (the README's tables show the same keys).
     */
    @Test
    void everyPartOfTheBenchReportsItsFiguresUnderTheirStableKeys() throws Exception {
        Path vhostctl = unpacked("vhostctl-bench-all");
        Run r = run(vhostctl.getParent(), List.of(vhostctl.toString(), "bench", "--only",
                "datapath,iotlb,viommu,devices,vsock", "--seconds", "0.3", "--rounds", "1", "--devices", "2", "--json"));
        assertEquals(0, r.code(), r.output());
        String json = r.output().substring(r.output().indexOf('{'));
        List<String> keys = new ArrayList<>();
        for (BenchFigure f : benchFigures(json)) {
            keys.add(f.key());
            double v = f.java();
            assertTrue(Double.isFinite(v) && v >= 0, f.key() + " = " + v);
            if (f.key().endsWith("frames_per_s") || f.key().endsWith("mb_per_s")
                    || f.key().endsWith("misses_per_s") || f.key().endsWith("service_us")) {
                assertTrue(v > 0, f.key() + " = " + v + " in " + json);
            }
        }
        List<String> expected = new ArrayList<>();
        for (String dir : List.of("tx64", "rx64", "tx1500", "rx1500")) {
            for (String f : List.of("frames_per_s", "cpu_ns_per_frame", "user_ns_per_frame")) {
                expected.add("datapath." + dir + "." + f);
            }
        }
        expected.addAll(List.of("datapath.tx_gso64k.mb_per_s", "datapath.tx1500.iotlb_on_over_off",
                "jit.miss_path.warmup_s", "iotlb.miss.p50_us", "iotlb.miss.p99_us", "iotlb.miss.heap_bytes",
                "profile.iotlb_thread.native_share", "iotlb.one_device.misses_per_s", "iotlb.one_device.service_us",
                "iotlb.one_device.tx64_frames_per_s", "iotlb.one_device.cpu_us_per_miss",
                "iotlb.one_device.user_us_per_miss", "iotlb.one_device.epoll_c.cpu_us_per_miss",
                "iotlb.one_device.epoll_c.user_us_per_miss", "iotlb.one_device.epoll_c.service_us",
                "iotlb.one_device.epoll_c.tx64_frames_per_s", "iotlb.one_device.polling.service_us",
                "iotlb.one_device.polling.tx64_frames_per_s", "iotlb.one_device.polling.cpu_us_per_miss",
                "profile.viommu_lazy_exact.native_share", "jit.viommu_path.warmup_s"));
        for (String mode : List.of("strict", "lazy")) {
            for (String policy : List.of("exact", "exact_polling", "coalescing", "coalescing_prefetch")) {
                for (String f : List.of("frames_per_s", "misses_per_1000_frames", "p99_us", "mean_us",
                        "server_cpu_us_per_frame")) {
                    expected.add("viommu." + mode + "." + policy + "." + f);
                }
            }
        }
        expected.addAll(List.of("iotlb.many_devices.misses_per_s", "vsock.stream.host_to_guest_mb_per_s",
                "vsock.stream.guest_to_host_mb_per_s"));
        assertEquals(expected, keys, "keys, in order (no C library: C is null): " + json);
    }

    /**
     * {@code --pin}: the IOTLB rounds run with the serving thread, the driver thread and the device's vhost worker
     * pinned (the bench checks each pin by reading the thread's affinity back, and fails without exactly one vhost
     * worker to pin: a kernel thread on 6.1, a thread of the owner on 6.12 and later), and the report says where.
     */
    @Test
    void theBenchPinsTheThreadsOfItsIotlbRoundsWhereToldAndSaysSo() throws Exception {
        Path vhostctl = unpacked("vhostctl-bench-pinned");
        Run r = run(vhostctl.getParent(), List.of(vhostctl.toString(), "bench", "--only", "iotlb", "--seconds", "0.3",
                "--rounds", "1", "--pin", "1,0,1", "--json"));
        assertEquals(0, r.code(), r.output());
        String json = r.output().substring(r.output().indexOf('{'));
        assertTrue(json.contains("\"placement\": \"serving thread on CPU 1, driver thread on CPU 0, vhost worker on CPU 1\""),
                json);
        List<BenchFigure> figures = benchFigures(json);
        assertTrue(figures.stream().anyMatch(f -> f.key().equals("iotlb.one_device.tx64_frames_per_s") && f.java() > 0),
                json);
        Run bad = run(vhostctl.getParent(), List.of(vhostctl.toString(), "bench", "--only", "iotlb", "--pin", "0,1"));
        assertEquals(2, bad.code(), bad.output());
        assertTrue(bad.output().contains("--pin: expected SERVER,DRIVER,WORKER (three CPU numbers), got '0,1'"),
                bad.output());
    }
}
