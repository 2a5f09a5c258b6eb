package io.vhost4j.cli.bench;

import io.vhost4j.EventFd;
import io.vhost4j.IotlbMessage;
import io.vhost4j.iotlb.DeviceStats;
import io.vhost4j.iotlb.IotlbManager;
import io.vhost4j.iotlb.ManagedDevice;
import io.vhost4j.testkit.DmaWindow;
import io.vhost4j.testkit.NetDriver;
import io.vhost4j.testkit.NetLoopback;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.ToDoubleFunction;

import static io.vhost4j.cli.bench.Samples.medianOf;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * IOTLB misses under load: TX of 64-byte frames with 4 KiB mappings and an INVALIDATE of the whole window
 * after every 32 frames, served by the Java manager or by the C loop ({@link CLoop}: sleeping in poll, and in
 * epoll_wait as the manager does), in alternating rounds;
 * then many devices on one manager thread.
 */
public final class MissBench {
    private static final String LOOP_THREAD = "bench-iotlb";
    private static final NetDriver.Config IOVA_CONFIG =
            NetDriver.Config.defaults().withDma(DmaWindow.iova(NetLoopback.IOVA_OFFSET));

    /**
     * One round on one device.
     *
     * @param missesPerSecond    misses read per second
     * @param framesPerSecond    TX frames passed per second under that load
     * @param duplicateShare     share of misses inside one of the 16 newest answers since the last invalidation
     * @param meanServiceMicros  mean time from reading a MISS to the UPDATE written
     * @param cpuMicrosPerMiss   CPU time (user and system) of the thread serving the misses, per miss read
     * @param userMicrosPerMiss  the user-mode part of that
     */
    public record MissRun(double missesPerSecond, double framesPerSecond, double duplicateShare,
                          double meanServiceMicros, double cpuMicrosPerMiss, double userMicrosPerMiss) {}

    /**
     * What the profiled Java round (not one of the measured rounds) shows.
     *
     * @param p50Micros       median service time
     * @param p99Micros       99th percentile service time
     * @param bytesPerMiss    heap bytes the manager thread allocated per miss
     * @param missesCounted   the misses that figure is over
     * @param samples         where the manager thread's time went (JFR)
     */
    public record ManagerDetail(double p50Micros, double p99Micros, double bytesPerMiss, long missesCounted,
                                Profile.Samples samples) {}

    /**
     * The JIT's state around the measured rounds.
     *
     * @param warmupSeconds      how long the warm-up ran until C2 had compiled the whole miss path
     * @param notCompiled        miss-path methods still not in C2 code when the measured rounds began (the warm-up
     *                           gives up after a minute)
     * @param compiledInWindows  miss-path methods whose first C2 code came during a measured window
     */
    public record JitState(double warmupSeconds, List<String> notCompiled, List<String> compiledInWindows) {}

    private final double seconds;
    private final int rounds;
    private final Placement placement;

    /**
     * Measurements of {@code seconds} each, after a warm-up, medians of {@code rounds} alternating rounds, the
     * one-device rounds' threads placed as {@code placement} says.
     */
    public MissBench(double seconds, int rounds, Placement placement) {
        this.seconds = seconds;
        this.rounds = rounds;
        this.placement = placement;
    }

    private interface Invalidation {
        void run() throws Exception;
    }

    private static Runnable unchecked(Invalidation i) {
        return () -> {
            try {
                i.run();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        };
    }

    private static long windowIova() {
        return NetLoopback.GUEST_BASE + NetLoopback.IOVA_OFFSET;
    }

    private static long windowSize(NetLoopback l) {
        return l.memory().regions().get(0).size();
    }

    /**
     * One device and its manager, served on a thread of ours that counts its own heap allocation; or, when it is to
     * poll after each miss, on the manager's own thread ({@link IotlbManager#start(Duration)}), which counts nothing.
     */
    private static final class JavaRig implements AutoCloseable {
        final IotlbManager manager = IotlbManager.create(null);
        final NetLoopback loop;
        final ManagedDevice md;
        final Runnable invalidate;
        private final AtomicBoolean stop = new AtomicBoolean(), counting = new AtomicBoolean();
        private final long[] alloc = new long[2]; // bytes, misses: written by the loop thread, read after join
        private final Thread loopThread;

        JavaRig() throws Exception {
            this(Duration.ZERO);
        }

        JavaRig(Duration poll) throws Exception {
            NetLoopback l = null;
            try {
                l = NetLoopback.open(IOVA_CONFIG, "vhb%d");
                md = l.startWithIotlb(manager, l.offsetTranslator(4096));
            } catch (Exception | Error e) {
                if (l != null) {
                    l.close();
                }
                manager.close();
                throw e;
            }
            loop = l;
            invalidate = unchecked(() -> md.invalidate(windowIova(), windowSize(loop)));
            if (!poll.isZero()) {
                manager.start(poll);
                loopThread = ManagerThread.find();
                return;
            }
            loopThread = Thread.ofPlatform().name(LOOP_THREAD).start(() -> {
                var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
                boolean started = false;
                while (!stop.get()) {
                    try {
                        manager.processReady(-1); // as the C loop waits; close() wakes it
                    } catch (IllegalStateException closedBeforeTheCall) {
                        break;
                    }
                    if (!started && counting.get()) {
                        started = true;
                        alloc[0] = mx.getCurrentThreadAllocatedBytes();
                        alloc[1] = md.stats().misses();
                    }
                }
                alloc[0] = mx.getCurrentThreadAllocatedBytes() - alloc[0];
                alloc[1] = md.stats().misses() - alloc[1];
            });
        }

        long churn(double secs) throws Exception {
            return Churn.tx(List.of(loop), invalidate, secs);
        }

        /** Heap bytes per miss since counting began, and the misses; only after {@link #close()}. */
        long[] allocation() {
            return alloc;
        }

        @Override
        public void close() throws InterruptedException {
            stop.set(true);
            manager.close(); // wakes the loop thread, which then sees stop
            loopThread.join();
            loop.close();
        }
    }

    /** Churns until C2 has compiled the whole miss path, or a minute passed; returns the seconds it took. */
    private static double warmUpUntilCompiled(Profile profile) throws Exception {
        long t0 = System.nanoTime();
        try (JavaRig r = new JavaRig()) {
            while (!profile.notCompiled().isEmpty() && System.nanoTime() - t0 < 60_000_000_000L) {
                r.churn(1);
            }
        }
        return (System.nanoTime() - t0) / 1e9;
    }

    /**
     * One measured Java round, the manager polling for {@code poll} after each miss ({@link Duration#ZERO}: it sleeps
     * at once, as the C loop does); its window goes to {@code windows}.
     */
    public MissRun javaRound(List<Instant[]> windows, Duration poll) throws Exception {
        try (JavaRig r = new JavaRig(poll); Placement.Restore pinned = placement.apply(r.loopThread.getName())) {
            r.churn(2); // warm-up
            r.md.resetLatency();
            DeviceStats s0 = r.md.stats();
            Instant from = Instant.now();
            long t0 = System.nanoTime();
            CpuTime cpu0 = CpuTime.of(r.loopThread);
            long frames = r.churn(seconds);
            double secs = (System.nanoTime() - t0) / 1e9;
            CpuTime cpu = CpuTime.of(r.loopThread).since(cpu0);
            windows.add(new Instant[] {from, Instant.now()});
            DeviceStats s1 = r.md.stats();
            if (s1.faults() != 0) {
                throw new IllegalStateException(s1.faults() + " misses unanswered");
            }
            long misses = s1.misses() - s0.misses();
            return new MissRun(misses / secs, frames / secs,
                    misses == 0 ? 0 : (s1.duplicates() - s0.duplicates()) / (double) misses,
                    s1.latency().meanNanos() / 1e3, cpu.cpuMicrosPer(misses), cpu.userMicrosPer(misses));
        }
    }

    /** A Java round outside the medians: the manager thread sampled by JFR, its heap allocation counted. */
    private ManagerDetail profiledRound(Profile profile) throws Exception {
        DeviceStats s;
        Profile.Samples samples;
        JavaRig r = new JavaRig();
        try {
            r.churn(1);
            r.md.resetLatency();
            r.counting.set(true);
            profile.sample(LOOP_THREAD);
            r.churn(seconds);
            s = r.md.stats();
        } finally {
            r.close();
        }
        samples = profile.stopSampling();
        long[] alloc = r.allocation();
        return new ManagerDetail(s.latency().p50Nanos() / 1e3, s.latency().p99Nanos() / 1e3,
                alloc[1] == 0 ? 0 : alloc[0] / (double) alloc[1], alloc[1], samples);
    }

    /**
     * One device, misses served by the C loop on a thread of ours, sleeping as {@code wait} says after polling for
     * {@code poll} after each miss (invalidations written directly).
     */
    public MissRun cRound(CLoop c, CLoop.Wait wait, Duration poll) throws Exception {
        try (IotlbManager m = IotlbManager.create(null); NetLoopback l = NetLoopback.open(IOVA_CONFIG, "vhb%d");
             EventFd stopFd = EventFd.create(); Arena a = Arena.ofShared()) {
            ManagedDevice md = l.startWithIotlb(m, l.offsetTranslator(4096)); // maps the used rings
            md.unregister();
            MemorySegment counters = a.allocate(JAVA_LONG, CLoop.COUNTERS);
            long ubase = l.memory().regions().get(0).segment().address();
            int[] rc = new int[1];
            Thread server = Thread.ofPlatform().name("bench-c-iotlb").start(() ->
                    rc[0] = c.serveMisses(l.net().fd(), stopFd.fd(), NetLoopback.IOVA_OFFSET, NetLoopback.GUEST_BASE,
                            windowSize(l), ubase, 4096L, l.net().iotlbMessagesV2(), wait, poll, counters));
            Runnable invalidate = unchecked(() -> {
                // Before the INVALIDATE: a miss it causes must find the C loop's newest answers forgotten.
                CLoop.countInvalidation(counters);
                l.net().writeIotlb(IotlbMessage.invalidate(windowIova(), windowSize(l)));
            });
            MissRun run;
            try (Placement.Restore pinned = placement.apply(server.getName())) {
                Churn.tx(List.of(l), invalidate, 2); // warm-up, as for Java
                long m0 = counters.getAtIndex(JAVA_LONG, CLoop.ANSWERED);
                long n0 = counters.getAtIndex(JAVA_LONG, CLoop.SERVICE_NANOS);
                long d0 = counters.getAtIndex(JAVA_LONG, CLoop.DUPLICATES);
                long t0 = System.nanoTime();
                CpuTime cpu0 = CpuTime.of(server);
                long frames = Churn.tx(List.of(l), invalidate, seconds);
                double secs = (System.nanoTime() - t0) / 1e9;
                CpuTime cpu = CpuTime.of(server).since(cpu0);
                long m1 = counters.getAtIndex(JAVA_LONG, CLoop.ANSWERED);
                long n1 = counters.getAtIndex(JAVA_LONG, CLoop.SERVICE_NANOS);
                long d1 = counters.getAtIndex(JAVA_LONG, CLoop.DUPLICATES);
                run = new MissRun((m1 - m0) / secs, frames / secs, m1 == m0 ? 0 : (d1 - d0) / (double) (m1 - m0),
                        m1 == m0 ? 0 : (n1 - n0) / 1e3 / (m1 - m0),
                        cpu.cpuMicrosPer(m1 - m0), cpu.userMicrosPer(m1 - m0));
            } finally {
                stopFd.signal();
                server.join();
            }
            if (rc[0] != 0) {
                throw new IllegalStateException("C miss loop failed: " + rc[0]);
            }
            return run;
        }
    }

    /**
     * Alternating Java and C rounds on one device, after a warm-up that lasts until C2 has compiled the miss path,
     * then one profiled Java round; {@code c} may be {@code null}.
     */
    public List<Figure> oneDevice(CLoop c, Progress progress) throws Exception {
        // One typed result a round, per loop: the manager sleeping and polling, the C loop in poll, in epoll_wait,
        // and polling (the C lists stay empty without a C library).
        List<MissRun> java = new ArrayList<>(), javaPolling = new ArrayList<>();
        List<MissRun> cPoll = new ArrayList<>(), cEpoll = new ArrayList<>(), cPolling = new ArrayList<>();
        JitState jit;
        ManagerDetail detail;
        try (Profile profile = Profile.start(Profile.MISS_PATH)) {
            progress.say("IOTLB misses: warm-up until C2 has compiled the miss path (JFR)");
            double warm = warmUpUntilCompiled(profile);
            List<String> notCompiled = profile.notCompiled();
            List<Instant[]> windows = new ArrayList<>();
            for (int round = 0; round < rounds; round++) {
                String of = " (round " + (round + 1) + "/" + rounds + ")";
                progress.say("IOTLB misses, 1 device, Java manager" + of);
                java.add(javaRound(windows, Duration.ZERO));
                progress.say("IOTLB misses, 1 device, Java manager polling " + ManagerThread.POLL.toNanos() / 1000
                        + " µs after each miss" + of);
                javaPolling.add(javaRound(windows, ManagerThread.POLL));
                if (c != null) {
                    progress.say("IOTLB misses, 1 device, plain C miss loop (poll) in the same process" + of);
                    cPoll.add(cRound(c, CLoop.Wait.POLL, Duration.ZERO));
                    progress.say("IOTLB misses, 1 device, plain C miss loop (epoll) in the same process" + of);
                    cEpoll.add(cRound(c, CLoop.Wait.EPOLL, Duration.ZERO));
                    progress.say("IOTLB misses, 1 device, plain C miss loop (poll) polling "
                            + ManagerThread.POLL.toNanos() / 1000 + " µs after each miss" + of);
                    cPolling.add(cRound(c, CLoop.Wait.POLL, ManagerThread.POLL));
                }
            }
            progress.say("IOTLB misses, 1 device, Java manager sampled by JFR (not in the medians)");
            detail = profiledRound(profile);
            java.util.Set<String> inWindows = new java.util.TreeSet<>();
            for (Instant[] w : windows) {
                inWindows.addAll(profile.compiledWithin(w[0], w[1]));
            }
            jit = new JitState(warm, notCompiled, List.copyOf(inWindows));
        }
        String median = "median of " + rounds;
        List<Figure> figures = new ArrayList<>();
        figures.add(Figure.javaOnly("jit.miss_path.warmup_s", "warm-up until C2 compiled the miss path ("
                + Profile.MISS_PATH.size() + " methods, own or inlined; JFR)", jit.warmupSeconds(), "s",
                (jit.notCompiled().isEmpty() ? "all compiled before the measured rounds"
                        : "still not compiled: " + jit.notCompiled())
                + (jit.compiledInWindows().isEmpty() ? "; none compiled during a measured window"
                        : "; compiled during a measured window: " + jit.compiledInWindows())));
        figures.add(Figure.javaOnly("iotlb.miss.p50_us", "IOTLB miss p50 (Java manager)", detail.p50Micros(), "µs",
                "read MISS -> UPDATE written"));
        figures.add(Figure.javaOnly("iotlb.miss.p99_us", "IOTLB miss p99 (Java manager)", detail.p99Micros(), "µs",
                null));
        figures.add(Figure.javaOnly("iotlb.miss.heap_bytes", "heap allocated per miss (manager thread, steady state)",
                detail.bytesPerMiss(), "bytes/miss", detail.missesCounted() + " misses"));
        Profile.Samples p = detail.samples();
        figures.add(Figure.javaOnly("profile.iotlb_thread.native_share", "manager thread samples in native code"
                + " (system calls), JFR", 100 * p.nativeShare(), "%", p.samples() + " samples; top: " + p.hottest()));
        figures.add(new Figure("iotlb.one_device.misses_per_s", "IOTLB misses served, 1 device (4 KiB maps,"
                + " invalidate/32 frames; " + median + ")", medianOf(java, MissRun::missesPerSecond),
                medianOf(cPoll, MissRun::missesPerSecond), "misses/s", null));
        figures.add(new Figure("iotlb.one_device.service_us", "IOTLB miss mean service time, read MISS -> UPDATE"
                + " written (" + median + ")", medianOf(java, MissRun::meanServiceMicros),
                medianOf(cPoll, MissRun::meanServiceMicros), "µs", rounds(java, cPoll, MissRun::meanServiceMicros)));
        figures.add(new Figure("iotlb.one_device.tx64_frames_per_s", "TX 64 B frames under that miss load, 1 device ("
                + median + ")", medianOf(java, MissRun::framesPerSecond), medianOf(cPoll, MissRun::framesPerSecond),
                "frames/s", String.format("duplicate misses: Java %.0f%%",
                        100 * medianOf(java, MissRun::duplicateShare)) + (c == null ? ""
                        : String.format(", C %.0f%% (poll) / %.0f%% (epoll)", 100 * medianOf(cPoll,
                        MissRun::duplicateShare), 100 * medianOf(cEpoll, MissRun::duplicateShare)))
                        + "; " + rounds(java, cPoll, MissRun::framesPerSecond)));
        figures.add(new Figure("iotlb.one_device.cpu_us_per_miss", "CPU time of the serving thread per miss read"
                + " (user + system, " + median + ")", medianOf(java, MissRun::cpuMicrosPerMiss),
                medianOf(cPoll, MissRun::cpuMicrosPerMiss), "µs", null));
        figures.add(new Figure("iotlb.one_device.user_us_per_miss", "user-mode part of that CPU time (" + median
                + ")", medianOf(java, MissRun::userMicrosPerMiss), medianOf(cPoll, MissRun::userMicrosPerMiss), "µs",
                null));
        figures.add(new Figure("iotlb.one_device.epoll_c.cpu_us_per_miss", "CPU time per miss, against the C loop"
                + " sleeping in epoll_wait (" + median + ")", medianOf(java, MissRun::cpuMicrosPerMiss),
                medianOf(cEpoll, MissRun::cpuMicrosPerMiss), "µs", null));
        figures.add(new Figure("iotlb.one_device.epoll_c.user_us_per_miss", "user-mode CPU time per miss, against"
                + " the C loop sleeping in epoll_wait (" + median + ")", medianOf(java, MissRun::userMicrosPerMiss),
                medianOf(cEpoll, MissRun::userMicrosPerMiss), "µs", null));
        figures.add(new Figure("iotlb.one_device.epoll_c.service_us", "IOTLB miss mean service time, against the C"
                + " loop sleeping in epoll_wait (" + median + ")", medianOf(java, MissRun::meanServiceMicros),
                medianOf(cEpoll, MissRun::meanServiceMicros), "µs", "Java: the same rounds as above; "
                + rounds(java, cEpoll, MissRun::meanServiceMicros)));
        figures.add(new Figure("iotlb.one_device.epoll_c.tx64_frames_per_s", "TX 64 B frames under that miss load,"
                + " against the C loop sleeping in epoll_wait (" + median + ")",
                medianOf(java, MissRun::framesPerSecond), medianOf(cEpoll, MissRun::framesPerSecond), "frames/s",
                rounds(java, cEpoll, MissRun::framesPerSecond)));
        String polling = "both polling " + ManagerThread.POLL.toNanos() / 1000 + " µs after each miss before they"
                + " sleep (the Java manager: IotlbManager.start(Duration); the C loop: in poll)";
        figures.add(new Figure("iotlb.one_device.polling.service_us", "IOTLB miss mean service time, " + polling
                + " (" + median + ")", medianOf(javaPolling, MissRun::meanServiceMicros),
                medianOf(cPolling, MissRun::meanServiceMicros), "µs",
                rounds(javaPolling, cPolling, MissRun::meanServiceMicros)));
        figures.add(new Figure("iotlb.one_device.polling.tx64_frames_per_s", "TX 64 B frames under that miss load, "
                + polling + " (" + median + ")", medianOf(javaPolling, MissRun::framesPerSecond),
                medianOf(cPolling, MissRun::framesPerSecond), "frames/s",
                rounds(javaPolling, cPolling, MissRun::framesPerSecond) + (c == null ? ""
                        : String.format("; against the C loop that sleeps at once: %.2fx",
                        medianOf(javaPolling, MissRun::framesPerSecond) / medianOf(cPoll, MissRun::framesPerSecond)))));
        figures.add(new Figure("iotlb.one_device.polling.cpu_us_per_miss", "CPU time of the serving thread per miss"
                + " read, " + polling + " (" + median + ")", medianOf(javaPolling, MissRun::cpuMicrosPerMiss),
                medianOf(cPolling, MissRun::cpuMicrosPerMiss), "µs",
                rounds(javaPolling, cPolling, MissRun::cpuMicrosPerMiss)));
        return figures;
    }

    /** How far apart the rounds behind two medians of {@code figure} were, for a figure's note. */
    private static String rounds(List<MissRun> java, List<MissRun> c, ToDoubleFunction<MissRun> figure) {
        return "rounds: Java " + Samples.of(java, figure).range()
                + (c.isEmpty() ? "" : ", C " + Samples.of(c, figure).range());
    }

    /** {@code devices} loopbacks of 64-entry queues on one manager thread. */
    public Figure manyDevices(int devices, Progress progress) throws Exception {
        progress.say(devices + " devices on one Java manager thread");
        NetDriver.Config config = new NetDriver.Config(64, false, false, 2048,
                DmaWindow.iova(NetLoopback.IOVA_OFFSET), false, true);
        List<NetLoopback> loops = new ArrayList<>();
        List<ManagedDevice> mds = new ArrayList<>();
        try (IotlbManager m = IotlbManager.create(null)) {
            try {
                for (int i = 0; i < devices; i++) {
                    NetLoopback l = NetLoopback.open(config, "vhb%d");
                    loops.add(l);
                    mds.add(l.startWithIotlb(m, l.offsetTranslator(4096)));
                }
                m.start();
                Runnable invalidateAll = unchecked(() -> {
                    for (int i = 0; i < loops.size(); i++) {
                        mds.get(i).invalidate(windowIova(), windowSize(loops.get(i)));
                    }
                });
                Churn.tx(loops, () -> { }, 1);
                long misses0 = mds.stream().mapToLong(d -> d.stats().misses()).sum();
                long t0 = System.nanoTime();
                long frames = Churn.tx(loops, invalidateAll, seconds);
                double secs = (System.nanoTime() - t0) / 1e9;
                long misses = mds.stream().mapToLong(d -> d.stats().misses()).sum() - misses0;
                long faults = mds.stream().mapToLong(d -> d.stats().faults()).sum();
                return Figure.javaOnly("iotlb.many_devices.misses_per_s", "IOTLB misses served, " + devices
                        + " devices, one manager thread", misses / secs, "misses/s",
                        String.format("%.0f frames/s, %d faults", frames / secs, faults));
            } finally {
                loops.forEach(NetLoopback::close);
            }
        }
    }
}
