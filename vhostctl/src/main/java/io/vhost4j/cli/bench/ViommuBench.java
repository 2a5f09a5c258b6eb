package io.vhost4j.cli.bench;

import io.vhost4j.EventFd;
import io.vhost4j.IotlbMessage;
import io.vhost4j.iotlb.DeviceStats;
import io.vhost4j.iotlb.IotlbManager;
import io.vhost4j.iotlb.ManagedDevice;
import io.vhost4j.iotlb.MappingPolicy;
import io.vhost4j.testkit.DmaWindow;
import io.vhost4j.testkit.NetDriver;
import io.vhost4j.testkit.NetLoopback;
import io.vhost4j.testkit.VirtualIommu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import static io.vhost4j.cli.bench.Samples.medianOf;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A vIOMMU workload that looks like a Linux guest's: TX of 64-byte frames in batches of 32, each batch published with
 * one kick (a loaded guest's {@code xmit_more}), through a driver that maps
 * every buffer before posting it and unmaps it after use ({@link VirtualIommu}: top-down IOVAs, recently freed ones
 * reused first), in <em>strict</em> mode (each unmap invalidated at once) and <em>lazy</em> mode (one invalidation of
 * the streaming area per {@value #LAZY_FLUSH_PAGES} unmapped pages or 10 ms). The misses are served by the plain-C
 * loop (exact: one page per UPDATE, as QEMU answers) and by the Java manager under three {@link MappingPolicy}s, and
 * by both polling after each miss ({@link Server}), in alternating rounds.
 */
public final class ViommuBench {
    private static final int STREAMING_PAGES = 4096;
    private static final int LAZY_FLUSH_PAGES = 256;
    private static final Duration LAZY_FLUSH_AFTER = Duration.ofMillis(10);
    private static final int SAMPLES = 1 << 16;
    private static final NetDriver.Config CONFIG =
            NetDriver.Config.defaults().withDma(DmaWindow.iova(NetLoopback.IOVA_OFFSET));

    /**
     * Who serves the misses. The prefetching manager maps up to one batch ({@value Churn#BATCH} entries) ahead: the
     * guest maps a whole batch before it kicks, so that is what the translator can offer (with 8 entries, the
     * batch took five misses instead of two). The polling manager and the polling C loop answer exactly, as the
     * others, but poll for {@link ManagerThread#POLL} after each miss instead of sleeping at once; each Java server
     * is compared with the C loop that waits as it does ({@link #cTwin()}).
     */
    enum Server {
        C_LOOP("C loop", null, Duration.ZERO),
        C_LOOP_POLLING("C loop polling", null, ManagerThread.POLL),
        EXACT("exact", MappingPolicy.exact(), Duration.ZERO),
        EXACT_POLLING("exact_polling", MappingPolicy.exact(), ManagerThread.POLL),
        COALESCING("coalescing", MappingPolicy.coalescing(), Duration.ZERO),
        COALESCING_PREFETCH("coalescing_prefetch", MappingPolicy.coalescing().withPrefetch(Churn.BATCH),
                Duration.ZERO);

        final String key;
        final MappingPolicy policy;
        final Duration poll;

        Server(String key, MappingPolicy policy, Duration poll) {
            this.key = key;
            this.policy = policy;
            this.poll = poll;
        }

        /** Whether this is a C loop. */
        boolean isC() {
            return policy == null;
        }

        /** The C loop this Java server is compared with: the one that waits as it does. */
        Server cTwin() {
            return poll.isZero() ? C_LOOP : C_LOOP_POLLING;
        }

        /** How the figures name this server. */
        String describe() {
            return poll.isZero() ? String.valueOf(policy) : policy + ", polling " + poll.toNanos() / 1000 + " µs";
        }
    }

    /**
     * One round.
     *
     * @param framesPerSecond TX frames passed per second
     * @param missesPer1000   MISS messages read per 1000 frames (answered or not)
     * @param p99Micros       99th percentile of read MISS -> UPDATE written
     * @param stalePer1000    of the misses, those refused as stale duplicates (Java) or refused at all (C)
     * @param duplicatesPer1000 of the misses, duplicates: inside one of the 16 newest answers since the last
     *                        invalidation (the kernel raised the MISS again before the first answer landed)
     * @param updatesPer1000  UPDATE messages written per 1000 frames (answers, and the Java manager's prefetched
     *                        entries)
     * @param meanMicros      mean of read MISS -> UPDATE written
     * @param gcMillisPerSecond garbage-collection pauses of this JVM in the window, per second
     * @param serverCpu       CPU time of the thread serving the misses (the manager's loop thread, or the C loop's)
     * @param driverCpu       CPU time of the guest driver's thread
     * @param frames          TX frames passed in the window
     */
    public record Run(double framesPerSecond, double missesPer1000, double p99Micros, double stalePer1000,
                      double duplicatesPer1000, double updatesPer1000, double meanMicros,
                      double gcMillisPerSecond, CpuTime serverCpu, CpuTime driverCpu, long frames) {}

    private static long gcMillis() {
        long t = 0;
        for (var gc : java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()) {
            t += Math.max(0, gc.getCollectionTime());
        }
        return t;
    }

    private final double seconds;
    private final int rounds;
    private final Placement placement;

    /**
     * Measurements of {@code seconds} each, medians of {@code rounds} alternating rounds, their threads placed as
     * {@code placement} says.
     */
    public ViommuBench(double seconds, int rounds, Placement placement) {
        this.seconds = seconds;
        this.rounds = rounds;
        this.placement = placement;
    }

    private static VirtualIommu viommu(NetLoopback l, VirtualIommu.Mode mode) {
        return l.viommu(mode, STREAMING_PAGES, LAZY_FLUSH_PAGES, LAZY_FLUSH_AFTER);
    }

    /** One round of {@code server} in {@code mode}; {@code c} is needed for the C loops. */
    Run round(VirtualIommu.Mode mode, Server server, CLoop c) throws Exception {
        try (NetLoopback l = NetLoopback.open(CONFIG, "vhb%d"); VirtualIommu v = viommu(l, mode);
             IotlbManager m = IotlbManager.create(null)) {
            if (server.isC()) {
                ManagedDevice md = l.startWithViommu(m, v, MappingPolicy.exact()); // maps the used rings
                md.unregister();
                return cRound(l, v, c, server.poll);
            }
            ManagedDevice md = l.startWithViommu(m, v, server.policy);
            m.start(server.poll);
            try (Placement.Restore pinned = placement.apply(ManagerThread.NAME)) {
                Churn.tx(List.of(l), () -> { }, 1, true); // warm-up
                md.resetLatency();
                Thread loop = ManagerThread.find();
                DeviceStats s0 = md.stats();
                long g0 = gcMillis();
                CpuTime server0 = CpuTime.of(loop), driver0 = CpuTime.current();
                long t0 = System.nanoTime();
                long frames = Churn.tx(List.of(l), () -> { }, seconds, true);
                double secs = (System.nanoTime() - t0) / 1e9;
                CpuTime serverCpu = CpuTime.of(loop).since(server0), driverCpu = CpuTime.current().since(driver0);
                double gc = (gcMillis() - g0) / secs;
                DeviceStats s1 = md.stats();
                long refused = s1.faults() - s0.faults(), stale = s1.staleMisses() - s0.staleMisses();
                if (refused != stale) {
                    throw new IllegalStateException((refused - stale) + " misses unanswered");
                }
                return new Run(frames / secs, 1000.0 * (s1.misses() - s0.misses()) / frames,
                        s1.latency().p99Nanos() / 1e3, 1000.0 * stale / frames,
                        1000.0 * (s1.duplicates() - s0.duplicates()) / frames,
                        1000.0 * (s1.updates() - s0.updates()) / frames, s1.latency().meanNanos() / 1e3, gc,
                        serverCpu, driverCpu, frames);
            }
        }
    }

    private Run cRound(NetLoopback l, VirtualIommu v, CLoop c, Duration poll) throws Exception {
        try (EventFd stopFd = EventFd.create(); Arena a = Arena.ofShared()) {
            MemorySegment counters = a.allocate(JAVA_LONG, CLoop.COUNTERS);
            MemorySegment samples = a.allocate(JAVA_LONG, SAMPLES);
            v.invalidateWith((iova, size) -> {
                CLoop.countInvalidation(counters); // before: a miss it causes is no duplicate
                l.net().writeIotlb(IotlbMessage.invalidate(iova, size));
            });
            var region = l.memory().regions().get(0);
            int[] rc = new int[1];
            Thread server = Thread.ofPlatform().name("bench-c-iotlb").start(() ->
                    rc[0] = c.serveMissesByTable(l.net().fd(), stopFd.fd(), v.table(), v.base(), v.pages(),
                            NetLoopback.GUEST_BASE, region.size(), region.segment().address(),
                            l.net().iotlbMessagesV2(), poll, counters, samples));
            try (Placement.Restore pinned = placement.apply(server.getName())) {
                Churn.tx(List.of(l), () -> { }, 1, true); // warm-up, as for Java
                long a0 = counters.getAtIndex(JAVA_LONG, CLoop.ANSWERED), r0 = counters.getAtIndex(JAVA_LONG, CLoop.REFUSED);
                long n0 = counters.getAtIndex(JAVA_LONG, CLoop.SERVICE_NANOS);
                long d0 = counters.getAtIndex(JAVA_LONG, CLoop.DUPLICATES);
                long g0 = gcMillis();
                CpuTime server0 = CpuTime.of(server), driver0 = CpuTime.current();
                long t0 = System.nanoTime();
                long frames = Churn.tx(List.of(l), () -> { }, seconds, true);
                double secs = (System.nanoTime() - t0) / 1e9;
                CpuTime serverCpu = CpuTime.of(server).since(server0), driverCpu = CpuTime.current().since(driver0);
                double gc = (gcMillis() - g0) / secs;
                long a1 = counters.getAtIndex(JAVA_LONG, CLoop.ANSWERED), r1 = counters.getAtIndex(JAVA_LONG, CLoop.REFUSED);
                long n1 = counters.getAtIndex(JAVA_LONG, CLoop.SERVICE_NANOS);
                long d1 = counters.getAtIndex(JAVA_LONG, CLoop.DUPLICATES);
                return new Run(frames / secs, 1000.0 * (a1 - a0 + r1 - r0) / frames, p99Micros(samples, a0, a1),
                        1000.0 * (r1 - r0) / frames, 1000.0 * (d1 - d0) / frames, 1000.0 * (a1 - a0) / frames,
                        a1 == a0 ? 0 : (n1 - n0) / 1e3 / (a1 - a0), gc, serverCpu, driverCpu, frames);
            } finally {
                stopFd.signal();
                server.join();
                if (rc[0] != 0) {
                    throw new IllegalStateException("C miss loop failed: " + rc[0]);
                }
            }
        }
    }

    /** The p99 of the service times of answered misses {@code from} (inclusive) to {@code to}, as far as kept. */
    private static double p99Micros(MemorySegment samples, long from, long to) {
        long first = Math.max(from, to - SAMPLES);
        int n = (int) (to - first);
        if (n <= 0) {
            return 0;
        }
        long[] v = new long[n];
        for (int i = 0; i < n; i++) {
            v[i] = samples.getAtIndex(JAVA_LONG, (first + i) % SAMPLES);
        }
        Arrays.sort(v);
        return v[Math.min(n - 1, (int) Math.ceil(0.99 * n) - 1)] / 1e3;
    }

    /** A short Java round of {@code server} in {@code mode}, for the JIT only. */
    private void warmUp(VirtualIommu.Mode mode, Server server) throws Exception {
        try (NetLoopback l = NetLoopback.open(CONFIG, "vhb%d"); VirtualIommu v = viommu(l, mode);
             IotlbManager m = IotlbManager.create(null)) {
            l.startWithViommu(m, v, server.policy);
            m.start();
            Churn.tx(List.of(l), () -> { }, 1, true);
        }
    }

    /** Alternating rounds of every server in both modes; {@code c} may be {@code null} (Java only). */
    public List<Figure> run(CLoop c, Progress progress) throws Exception {
        List<Server> servers = new ArrayList<>(List.of(Server.values()));
        if (c == null) {
            servers.removeIf(Server::isC);
        }
        List<Figure> figures = new ArrayList<>();
        Map<VirtualIommu.Mode, Map<Server, List<Run>>> all = new EnumMap<>(VirtualIommu.Mode.class);
        for (VirtualIommu.Mode mode : VirtualIommu.Mode.values()) {
            Map<Server, List<Run>> per = new EnumMap<>(Server.class);
            for (Server s : servers) {
                per.put(s, new ArrayList<>());
            }
            all.put(mode, per);
        }
        List<String> path = new ArrayList<>(Profile.MISS_PATH);
        path.addAll(Profile.VIOMMU_PATH);
        double warm;
        List<String> notCompiled;
        try (Profile profile = Profile.start(path)) {
            progress.say("guest-like vIOMMU: warm-up until C2 has compiled its path (JFR)");
            long t0 = System.nanoTime();
            do { // Java rounds of every policy in both modes: they run every method of the path
                for (VirtualIommu.Mode mode : VirtualIommu.Mode.values()) {
                    for (Server s : List.of(Server.EXACT, Server.COALESCING_PREFETCH)) {
                        warmUp(mode, s);
                    }
                }
            } while (!profile.notCompiled().isEmpty() && System.nanoTime() - t0 < 90_000_000_000L);
            warm = (System.nanoTime() - t0) / 1e9;
            notCompiled = profile.notCompiled();
            progress.say("guest-like vIOMMU: the manager thread sampled by JFR in a lazy, exact round");
            profile.sample(ManagerThread.NAME);
            warmUp(VirtualIommu.Mode.LAZY, Server.EXACT);
            Profile.Samples p = profile.stopSampling();
            figures.add(Figure.javaOnly("profile.viommu_lazy_exact.native_share", "manager thread samples in native"
                    + " code, lazy guest, exact (JFR)", 100 * p.nativeShare(), "%", p.samples() + " samples; top: "
                    + p.hottest()));
        }
        figures.add(Figure.javaOnly("jit.viommu_path.warmup_s", "warm-up until C2 compiled the vIOMMU workload's path ("
                + path.size() + " methods; JFR)", warm, "s", notCompiled.isEmpty() ? "all compiled"
                : "still not compiled: " + notCompiled));
        for (int round = 0; round < rounds; round++) {
            for (VirtualIommu.Mode mode : VirtualIommu.Mode.values()) {
                for (Server s : servers) {
                    progress.say("guest-like vIOMMU, " + mode.name().toLowerCase() + ", " + s.key + " (round "
                            + (round + 1) + "/" + rounds + ")");
                    all.get(mode).get(s).add(round(mode, s, c));
                }
            }
        }
        String median = "median of " + rounds;
        for (VirtualIommu.Mode mode : VirtualIommu.Mode.values()) {
            String m = mode.name().toLowerCase();
            for (Server s : servers) {
                if (s.isC()) {
                    continue;
                }
                List<Run> js = all.get(mode).get(s), cs = all.get(mode).get(s.cTwin());
                String key = "viommu." + m + "." + s.key, who = m + " guest, Java " + s.describe();
                figures.add(new Figure(key + ".frames_per_s", "TX 64 B frames/s, " + who + " (" + median + ")",
                        medianOf(js, Run::framesPerSecond), medianOf(cs, Run::framesPerSecond), "frames/s",
                        String.format("rounds: Java %s%s; GC pauses: %.1f ms/s in Java rounds, %.1f ms/s in C rounds",
                                Samples.of(js, Run::framesPerSecond).range(), cs == null ? ""
                                        : ", C " + Samples.of(cs, Run::framesPerSecond).range(),
                                medianOf(js, Run::gcMillisPerSecond), orNaN(medianOf(cs, Run::gcMillisPerSecond)))));
                figures.add(new Figure(key + ".misses_per_1000_frames", "misses per 1000 frames, " + who,
                        medianOf(js, Run::missesPer1000), medianOf(cs, Run::missesPer1000), "misses",
                        String.format("duplicates: Java %.1f, C %.1f; stale duplicates: Java %.1f, C refused %.1f;"
                                + " UPDATEs written: Java %.1f, C %.1f (per 1000 frames)",
                                medianOf(js, Run::duplicatesPer1000), orNaN(medianOf(cs, Run::duplicatesPer1000)),
                                medianOf(js, Run::stalePer1000), orNaN(medianOf(cs, Run::stalePer1000)),
                                medianOf(js, Run::updatesPer1000), orNaN(medianOf(cs, Run::updatesPer1000)))));
                figures.add(new Figure(key + ".p99_us", "miss service p99, " + who, medianOf(js, Run::p99Micros),
                        medianOf(cs, Run::p99Micros), "µs", null));
                figures.add(new Figure(key + ".mean_us", "miss service mean, " + who, medianOf(js, Run::meanMicros),
                        medianOf(cs, Run::meanMicros), "µs", null));
                figures.add(new Figure(key + ".server_cpu_us_per_frame", "CPU time of the thread serving the"
                        + " misses per frame, " + who, medianOf(js, ViommuBench::serverCpuPerFrame),
                        medianOf(cs, ViommuBench::serverCpuPerFrame), "µs", String.format("user mode: Java %.2f,"
                                + " C %.2f; the driver thread's CPU per frame: Java %.2f, C %.2f µs",
                                medianOf(js, ViommuBench::serverUserPerFrame),
                                orNaN(medianOf(cs, ViommuBench::serverUserPerFrame)),
                                medianOf(js, ViommuBench::driverCpuPerFrame),
                                orNaN(medianOf(cs, ViommuBench::driverCpuPerFrame)))));
            }
        }
        return figures;
    }

    private static double serverCpuPerFrame(Run r) {
        return r.serverCpu().cpuMicrosPer(r.frames());
    }

    private static double serverUserPerFrame(Run r) {
        return r.serverCpu().userMicrosPer(r.frames());
    }

    private static double driverCpuPerFrame(Run r) {
        return r.driverCpu().cpuMicrosPer(r.frames());
    }

    private static double orNaN(Double d) {
        return d == null ? Double.NaN : d;
    }
}
