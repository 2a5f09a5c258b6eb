package io.vhost4j.cli;

import io.vhost4j.EventFd;
import io.vhost4j.IotlbMessage;
import io.vhost4j.VhostNet;
import io.vhost4j.guest.DmaWindow;
import io.vhost4j.guest.NetDriver;
import io.vhost4j.guest.NetLoopback;
import io.vhost4j.internal.gen.VhostH;
import io.vhost4j.internal.sys.Sys;
import io.vhost4j.iotlb.DeviceStats;
import io.vhost4j.iotlb.IotlbManager;
import io.vhost4j.iotlb.ManagedDevice;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * {@code vhostctl bench}: ioctl cost, data-path throughput and IOTLB miss service, with the plain-C side
 * ({@code native/cbench.c}, loaded with {@code --c-library}) measured in the same run for ratios.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmarks: ioctl cost, TX/RX frames/s (64 and 1500 bytes, IOTLB off and on), IOTLB misses"
                + " served per second and their latency (4 KiB mappings, invalidation every 32 frames, 1 and N"
                + " devices on one manager thread), heap bytes per miss. With --c-library (built by ci/bench) the"
                + " same syscalls in plain C run side by side. Needs root.",
        footer = {"", ExitCodes.HELP})
final class BenchCommand implements Callable<Integer> {
    @Option(names = "--json", description = "Print JSON instead of a table.")
    boolean json;

    @Option(names = "--seconds", defaultValue = "2", description = "Seconds per throughput measurement (default ${DEFAULT-VALUE}).")
    double seconds;

    @Option(names = "--devices", defaultValue = "64", description = "Devices for the many-device IOTLB run (default ${DEFAULT-VALUE}).")
    int devices;

    @Option(names = "--c-library", description = "native/cbench.c built as a shared library (ci/bench builds it).")
    Path cLibrary;

    @Spec
    CommandSpec spec;

    private static final Duration WAIT = Duration.ofSeconds(5);
    private final List<Map<String, Object>> rows = new ArrayList<>();
    private PrintWriter progress;
    private MethodHandle cGetFeatures, cServe;

    private void row(String name, double java, Double c, String unit, String note) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("benchmark", name);
        r.put("java", round(java));
        r.put("c", c == null ? null : round(c));
        r.put("javaOverC", c == null || c == 0 ? null : round(java / c));
        r.put("unit", unit);
        if (note != null) {
            r.put("note", note);
        }
        rows.add(r);
    }

    private static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }

    private void say(String s) {
        progress.println("bench: " + s);
        progress.flush();
    }

    @Override
    public Integer call() throws Exception {
        progress = spec.commandLine().getErr();
        try (Arena lib = Arena.ofShared()) {
            if (cLibrary != null) {
                SymbolLookup c = SymbolLookup.libraryLookup(cLibrary, lib);
                Linker l = Linker.nativeLinker();
                cGetFeatures = l.downcallHandle(c.findOrThrow("cbench_get_features"),
                        FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG));
                cServe = l.downcallHandle(c.findOrThrow("cbench_serve_misses"), FunctionDescriptor.of(JAVA_INT,
                        JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, ADDRESS));
            }
            ioctlCost();
            dataPath();
            iotlbMisses();
            manyDevices();
        }
        print();
        return ExitCodes.OK;
    }

    // ---- ioctl ---------------------------------------------------------------------------------------

    private void ioctlCost() throws Exception {
        say("ioctl(VHOST_GET_FEATURES) cost");
        int n = 100_000;
        try (VhostNet net = VhostNet.open()) {
            double[] java = new double[7], raw = new double[7], c = new double[7];
            Sys.Local local = Sys.local();
            long request = VhostH.VHOST_GET_FEATURES();
            int fd = net.fd();
            long warm = System.nanoTime() + 3_000_000_000L; // JIT warm-up: C2 compiles both loops first
            while (System.nanoTime() < warm) {
                for (int i = 0; i < 10_000; i++) {
                    net.getFeatures();
                    Sys.ioctl(local, fd, request, local.scratch());
                }
            }
            for (int round = -1; round < 7; round++) { // round -1: settle
                long t0 = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    net.getFeatures();
                }
                double j = (System.nanoTime() - t0) / (double) n;
                t0 = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    Sys.ioctl(local, fd, request, local.scratch());
                }
                double r = (System.nanoTime() - t0) / (double) n;
                double cc = cGetFeatures == null ? 0 : cGetFeatures(net.fd(), n) / (double) n;
                if (round >= 0) {
                    java[round] = j;
                    raw[round] = r;
                    c[round] = cc;
                }
            }
            Double cMedian = cGetFeatures == null ? null : median(c);
            row("ioctl VHOST_GET_FEATURES: VhostNet.getFeatures() (median of 7 x 100k)", median(java), cMedian,
                    "ns/call", null);
            row("ioctl VHOST_GET_FEATURES: syscall layer (Sys.ioctl)", median(raw), cMedian, "ns/call", null);
        }
    }

    private long cGetFeatures(int fd, long n) {
        try {
            long ns = (long) cGetFeatures.invokeExact(fd, n);
            if (ns < 0) {
                throw new IllegalStateException("C ioctl loop failed: errno " + -ns);
            }
            return ns;
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    // ---- data path -----------------------------------------------------------------------------------

    private static long userNanos() {
        return ManagementFactory.getThreadMXBean().getCurrentThreadUserTime(); // tick-sampled by the kernel
    }

    private static long cpuNanos() {
        return ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime(); // precise: user + kernel
    }

    /** TX for {@code seconds}: frames/s and Java-side user CPU per frame. */
    private double[] tx(NetLoopback loop, int size) throws Exception {
        MemorySegment frame = Arena.ofAuto().allocate(size);
        MemorySegment.copy(loop.frame(0, size), 0, frame, 0, size);
        NetDriver d = loop.driver();
        long warm = System.nanoTime() + 2_000_000_000L; // JIT warm-up (C2 only: nothing is compiled before)
        while (System.nanoTime() < warm) {
            d.transmit(frame, WAIT);
        }
        d.flushTx(WAIT);
        long deadline = System.nanoTime() + (long) (seconds * 1e9);
        long t0 = System.nanoTime(), u0 = userNanos(), c0 = cpuNanos(), sent = 0;
        while (System.nanoTime() < deadline) {
            for (int i = 0; i < 256; i++) {
                d.transmit(frame, WAIT);
            }
            sent += 256;
        }
        d.flushTx(WAIT);
        double secs = (System.nanoTime() - t0) / 1e9;
        return new double[] {sent / secs, (userNanos() - u0) / (double) sent, (cpuNanos() - c0) / (double) sent};
    }

    /** RX for {@code seconds}: frames sent into the tap in batches of 32 and received: frames/s, user ns/frame. */
    private double[] rx(NetLoopback loop, int size) throws Exception {
        MemorySegment frame = Arena.ofAuto().allocate(size);
        MemorySegment.copy(loop.frame(0, size), 0, frame, 0, size);
        MemorySegment buf = Arena.ofAuto().allocate(65536);
        long deadline = System.nanoTime() + 2_000_000_000L; // JIT warm-up first
        long t0 = 0, u0 = 0, c0 = 0, got = 0;
        boolean warm = false;
        while (System.nanoTime() < deadline || !warm) {
            if (!warm && System.nanoTime() >= deadline) {
                warm = true;
                got = 0;
                t0 = System.nanoTime();
                u0 = userNanos();
                c0 = cpuNanos();
                deadline = t0 + (long) (seconds * 1e9);
            }
            for (int i = 0; i < 32; i++) {
                loop.peer().send(frame);
            }
            for (int i = 0; i < 32; i++) {
                if (loop.driver().receive(buf, WAIT) == size) {
                    got++;
                }
            }
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        return new double[] {got / secs, (userNanos() - u0) / (double) got, (cpuNanos() - c0) / (double) got};
    }

    private void dataPath() throws Exception {
        for (int size : new int[] {64, 1500}) {
            say("data path, " + size + "-byte frames, IOTLB off");
            try (NetLoopback loop = NetLoopback.open(NetDriver.Config.defaults(), "vhb%d").start()) {
                double[] t = tx(loop, size);
                row("TX " + size + " B, IOTLB off", t[0], null, "frames/s", String.format("%.1f MB/s", t[0] * size / 1e6));
                row("TX " + size + " B: driver thread CPU per frame (user + kernel)", t[2], null, "ns/frame", null);
                row("TX " + size + " B: of which user (Java side; tick-sampled)", t[1], null, "ns/frame", null);
                double[] r = rx(loop, size);
                row("RX " + size + " B, IOTLB off", r[0], null, "frames/s", String.format("%.1f MB/s", r[0] * size / 1e6));
                row("RX " + size + " B: driver thread CPU per frame (incl. sending)", r[2], null, "ns/frame", null);
                row("RX " + size + " B: of which user (Java side; tick-sampled)", r[1], null, "ns/frame", null);
            }
        }
        say("TX 1500 B with the IOTLB on (one warm mapping) against off, same run");
        double off;
        try (NetLoopback loop = NetLoopback.open(NetDriver.Config.defaults(), "vhb%d").start()) {
            off = tx(loop, 1500)[0];
        }
        NetDriver.Config iova = NetDriver.Config.defaults().withDma(DmaWindow.iova(NetLoopback.IOVA_OFFSET));
        try (IotlbManager m = IotlbManager.create(null); NetLoopback loop = NetLoopback.open(iova, "vhb%d")) {
            loop.startWithIotlb(m, loop.offsetTranslator(1L << 30));
            m.start();
            double on = tx(loop, 1500)[0];
            row("TX 1500 B, IOTLB on (warm) / IOTLB off", on / off, null, "ratio",
                    String.format("on %.0f, off %.0f frames/s", on, off));
        }
    }

    // ---- IOTLB misses --------------------------------------------------------------------------------

    /** TX 64-byte frames, 32 in flight, INVALIDATE of the whole window after each 32: forces misses. */
    private static long churn(List<NetLoopback> loops, List<Runnable> invalidate, double seconds) throws Exception {
        MemorySegment frame = Arena.ofAuto().allocate(64);
        MemorySegment.copy(loops.get(0).frame(0, 64), 0, frame, 0, 64);
        long deadline = System.nanoTime() + (long) (seconds * 1e9), frames = 0;
        while (System.nanoTime() < deadline) {
            for (NetLoopback l : loops) {
                for (int i = 0; i < 32; i++) {
                    l.driver().transmit(frame, WAIT);
                }
            }
            for (NetLoopback l : loops) {
                if (!l.driver().flushTx(WAIT)) {
                    throw new IllegalStateException("TX stalled: misses not served");
                }
            }
            frames += 32L * loops.size();
            invalidate.forEach(Runnable::run);
        }
        return frames;
    }

    private static Runnable invalidator(NetLoopback l) {
        long size = l.memory().regions().get(0).size();
        return () -> {
            try {
                l.net().writeIotlb(IotlbMessage.invalidate(NetLoopback.GUEST_BASE + NetLoopback.IOVA_OFFSET, size));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        };
    }

    private static Runnable managerInvalidator(NetLoopback l, ManagedDevice md) {
        long size = l.memory().regions().get(0).size();
        return () -> {
            try {
                md.invalidate(NetLoopback.GUEST_BASE + NetLoopback.IOVA_OFFSET, size);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        };
    }

    private static final int ROUNDS = 3;

    private void iotlbMisses() throws Exception {
        double[] jr = new double[ROUNDS], jf = new double[ROUNDS], cr = new double[ROUNDS], cf = new double[ROUNDS];
        double[] dup = new double[ROUNDS], jl = new double[ROUNDS], cl = new double[ROUNDS];
        for (int round = 0; round < ROUNDS; round++) {
            say("IOTLB misses, 1 device, Java manager (round " + (round + 1) + "/" + ROUNDS + ")");
            double[] j = javaMissRun(round == ROUNDS - 1);
            jr[round] = j[0];
            jf[round] = j[1];
            dup[round] = j[2];
            jl[round] = j[3];
            if (cServe != null) {
                say("IOTLB misses, 1 device, plain C miss loop in the same process (round " + (round + 1) + "/"
                        + ROUNDS + ")");
                double[] c = cMissRun();
                cr[round] = c[0];
                cf[round] = c[1];
                cl[round] = c[2];
            }
        }
        boolean haveC = cServe != null;
        row("IOTLB misses served, 1 device (4 KiB maps, invalidate/32 frames; median of " + ROUNDS + ")", median(jr),
                haveC ? median(cr) : null, "misses/s", null);
        row("IOTLB miss mean service time, read MISS -> UPDATE written (median of " + ROUNDS + ")", median(jl),
                haveC ? median(cl) : null, "µs", null);
        row("TX 64 B frames under that miss load, 1 device (median of " + ROUNDS + ")", median(jf),
                haveC ? median(cf) : null, "frames/s", String.format("Java: %.0f%% of misses were duplicates",
                        100 * median(dup)));
    }

    private static final NetDriver.Config IOVA_CONFIG =
            NetDriver.Config.defaults().withDma(DmaWindow.iova(NetLoopback.IOVA_OFFSET));

    /** One device, the Java manager driven on a thread of ours: misses/s, frames/s, duplicate share. */
    private double[] javaMissRun(boolean report) throws Exception {
        try (IotlbManager m = IotlbManager.create(null); NetLoopback l = NetLoopback.open(IOVA_CONFIG, "vhb%d")) {
            ManagedDevice md = l.startWithIotlb(m, l.offsetTranslator(4096));
            AtomicBoolean stop = new AtomicBoolean();
            AtomicBoolean counting = new AtomicBoolean();
            long[] alloc = new long[2];
            Thread loopThread = Thread.ofPlatform().name("bench-iotlb").start(() -> {
                var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
                boolean started = false;
                while (!stop.get()) {
                    m.processReady(50);
                    if (!started && counting.get()) {
                        started = true;
                        alloc[0] = mx.getCurrentThreadAllocatedBytes();
                        alloc[1] = md.stats().misses();
                    }
                }
                alloc[0] = mx.getCurrentThreadAllocatedBytes() - alloc[0];
                alloc[1] = md.stats().misses() - alloc[1];
            });
            List<Runnable> inv = List.of(managerInvalidator(l, md)); // a VMM invalidates through the manager
            churn(List.of(l), inv, 2); // warm-up
            md.resetLatency();
            counting.set(true);
            DeviceStats s0 = md.stats();
            long t0 = System.nanoTime();
            long frames = churn(List.of(l), inv, seconds);
            double secs = (System.nanoTime() - t0) / 1e9;
            DeviceStats s1 = md.stats();
            stop.set(true);
            loopThread.join();
            if (s1.faults() != 0) {
                throw new IllegalStateException(s1.faults() + " misses unanswered");
            }
            long misses = s1.misses() - s0.misses();
            if (report) {
                row("IOTLB miss p50 (Java manager)", s1.latency().p50Nanos() / 1e3, null, "µs",
                        "read MISS -> UPDATE written");
                row("IOTLB miss p99 (Java manager)", s1.latency().p99Nanos() / 1e3, null, "µs", null);
                row("heap allocated per miss (manager thread, steady state)",
                        alloc[1] == 0 ? 0 : alloc[0] / (double) alloc[1], null, "bytes/miss", alloc[1] + " misses");
            }
            return new double[] {misses / secs, frames / secs,
                    misses == 0 ? 0 : (s1.duplicates() - s0.duplicates()) / (double) misses,
                    s1.latency().meanNanos() / 1e3};
        }
    }

    /** One device, misses served by native/cbench.c's loop on a thread of ours: misses/s, frames/s. */
    private double[] cMissRun() throws Exception {
        try (IotlbManager m = IotlbManager.create(null); NetLoopback l = NetLoopback.open(IOVA_CONFIG, "vhb%d");
             EventFd stopFd = EventFd.create(); Arena a = Arena.ofShared()) {
            ManagedDevice md = l.startWithIotlb(m, l.offsetTranslator(4096)); // maps the used rings
            md.unregister();
            MemorySegment out = a.allocate(JAVA_LONG, 2);
            long ubase = l.memory().regions().get(0).segment().address();
            long size = l.memory().regions().get(0).size();
            int[] rc = new int[1];
            Thread server = Thread.ofPlatform().name("bench-c-iotlb").start(() -> {
                try {
                    rc[0] = (int) cServe.invokeExact(l.net().fd(), stopFd.fd(), NetLoopback.IOVA_OFFSET,
                            NetLoopback.GUEST_BASE, size, ubase, 4096L, l.net().iotlbMessagesV2() ? 1 : 0, out);
                } catch (Throwable e) {
                    rc[0] = Integer.MIN_VALUE;
                }
            });
            List<Runnable> inv = List.of(invalidator(l));
            churn(List.of(l), inv, 2); // warm-up, as for Java
            long m0 = out.getAtIndex(JAVA_LONG, 0); // counters the C loop updates: fine for rates
            long n0 = out.getAtIndex(JAVA_LONG, 1);
            long t0 = System.nanoTime();
            long frames = churn(List.of(l), inv, seconds);
            double secs = (System.nanoTime() - t0) / 1e9;
            long m1 = out.getAtIndex(JAVA_LONG, 0);
            long n1 = out.getAtIndex(JAVA_LONG, 1);
            stopFd.signal();
            server.join();
            if (rc[0] != 0) {
                throw new IllegalStateException("C miss loop failed: " + rc[0]);
            }
            return new double[] {(m1 - m0) / secs, frames / secs, m1 == m0 ? 0 : (n1 - n0) / 1e3 / (m1 - m0)};
        }
    }

    private void manyDevices() throws Exception {
        if (devices <= 1) {
            return;
        }
        say(devices + " devices on one Java manager thread");
        NetDriver.Config iova = new NetDriver.Config(64, false, false, 2048, DmaWindow.iova(NetLoopback.IOVA_OFFSET), false);
        List<NetLoopback> loops = new ArrayList<>();
        List<ManagedDevice> mds = new ArrayList<>();
        try (IotlbManager m = IotlbManager.create(null)) {
            try {
                for (int i = 0; i < devices; i++) {
                    NetLoopback l = NetLoopback.open(iova, "vhb%d");
                    loops.add(l);
                    mds.add(l.startWithIotlb(m, l.offsetTranslator(4096)));
                }
                m.start();
                List<Runnable> inv = new ArrayList<>();
                for (int i = 0; i < loops.size(); i++) {
                    inv.add(managerInvalidator(loops.get(i), mds.get(i)));
                }
                churn(loops, List.of(), 1);
                long misses0 = mds.stream().mapToLong(d -> d.stats().misses()).sum();
                long t0 = System.nanoTime();
                long frames = churn(loops, inv, seconds);
                double secs = (System.nanoTime() - t0) / 1e9;
                long misses = mds.stream().mapToLong(d -> d.stats().misses()).sum() - misses0;
                long faults = mds.stream().mapToLong(d -> d.stats().faults()).sum();
                row("IOTLB misses served, " + devices + " devices, one manager thread", misses / secs, null, "misses/s",
                        String.format("%.0f frames/s, %d faults", frames / secs, faults));
            } finally {
                loops.forEach(NetLoopback::close);
            }
        }
    }

    private void print() {
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            Map<String, Object> report = new LinkedHashMap<>();
            try {
                report.put("kernel", java.nio.file.Files.readString(Path.of("/proc/sys/kernel/osrelease")).trim());
            } catch (java.io.IOException e) {
                report.put("kernel", "unknown");
            }
            report.put("results", rows);
            out.println(Json.write(report));
            return;
        }
        out.printf("%-66s %12s %12s %8s  %s%n", "benchmark", "Java", "C", "Java/C", "unit");
        for (Map<String, Object> r : rows) {
            out.printf("%-66s %12s %12s %8s  %s%s%n", r.get("benchmark"), fmt(r.get("java")), fmt(r.get("c")),
                    fmt(r.get("javaOverC")), r.get("unit"), r.containsKey("note") ? "  (" + r.get("note") + ")" : "");
        }
    }

    private static String fmt(Object v) {
        if (v == null) {
            return "-";
        }
        double d = (Double) v;
        return d >= 100 ? String.format("%.0f", d) : String.format("%.3f", d);
    }
}
