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
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * IOTLB misses under load: TX of 64-byte frames with 4 KiB mappings and an INVALIDATE of the whole window
 * after every 32 frames, served by the Java manager or by the C loop ({@link CLoop}), in alternating rounds;
 * then many devices on one manager thread.
 */
public final class MissBench {
    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final int ROUNDS = 3;
    private static final int BATCH = 32;
    private static final NetDriver.Config IOVA_CONFIG =
            NetDriver.Config.defaults().withDma(DmaWindow.iova(NetLoopback.IOVA_OFFSET));

    /**
     * One round on one device.
     *
     * @param missesPerSecond    misses read per second
     * @param framesPerSecond    TX frames passed per second under that load
     * @param duplicateShare     share of misses for addresses already mapped (Java side only; 0 for C)
     * @param meanServiceMicros  mean time from reading a MISS to the UPDATE written
     */
    public record MissRun(double missesPerSecond, double framesPerSecond, double duplicateShare,
                          double meanServiceMicros) {}

    /**
     * What the Java round also measures.
     *
     * @param p50Micros       median service time
     * @param p99Micros       99th percentile service time
     * @param bytesPerMiss    heap bytes the manager thread allocated per miss
     * @param missesCounted   the misses that figure is over
     */
    public record ManagerDetail(double p50Micros, double p99Micros, double bytesPerMiss, long missesCounted) {}

    private final double seconds;
    private ManagerDetail detail;

    /** Measurements of {@code seconds} each, after a warm-up. */
    public MissBench(double seconds) {
        this.seconds = seconds;
    }

    /** TX frames in batches of 32 on every loop, each batch flushed, then {@code afterBatch}; returns frames. */
    private static long churn(List<NetLoopback> loops, Runnable afterBatch, double seconds) throws Exception {
        MemorySegment frame = Arena.ofAuto().allocate(64);
        MemorySegment.copy(loops.get(0).frame(0, 64), 0, frame, 0, 64);
        long deadline = System.nanoTime() + (long) (seconds * 1e9), frames = 0;
        while (System.nanoTime() < deadline) {
            for (NetLoopback l : loops) {
                for (int i = 0; i < BATCH; i++) {
                    l.driver().transmit(frame, WAIT);
                }
            }
            for (NetLoopback l : loops) {
                if (!l.driver().flushTx(WAIT)) {
                    throw new IllegalStateException("TX stalled: misses not served");
                }
            }
            frames += (long) BATCH * loops.size();
            afterBatch.run();
        }
        return frames;
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

    /** One device, the Java manager driven on a thread of ours (a VMM invalidates through the manager). */
    public MissRun javaRound(boolean keepDetail) throws Exception {
        try (IotlbManager m = IotlbManager.create(null); NetLoopback l = NetLoopback.open(IOVA_CONFIG, "vhb%d")) {
            ManagedDevice md = l.startWithIotlb(m, l.offsetTranslator(4096));
            AtomicBoolean stop = new AtomicBoolean(), counting = new AtomicBoolean();
            long[] alloc = new long[2]; // bytes, misses: written by the loop thread, read after join
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
            Runnable invalidate = unchecked(() -> md.invalidate(windowIova(), windowSize(l)));
            churn(List.of(l), invalidate, 2); // warm-up
            md.resetLatency();
            counting.set(true);
            DeviceStats s0 = md.stats();
            long t0 = System.nanoTime();
            long frames = churn(List.of(l), invalidate, seconds);
            double secs = (System.nanoTime() - t0) / 1e9;
            DeviceStats s1 = md.stats();
            stop.set(true);
            loopThread.join();
            if (s1.faults() != 0) {
                throw new IllegalStateException(s1.faults() + " misses unanswered");
            }
            long misses = s1.misses() - s0.misses();
            if (keepDetail) {
                detail = new ManagerDetail(s1.latency().p50Nanos() / 1e3, s1.latency().p99Nanos() / 1e3,
                        alloc[1] == 0 ? 0 : alloc[0] / (double) alloc[1], alloc[1]);
            }
            return new MissRun(misses / secs, frames / secs,
                    misses == 0 ? 0 : (s1.duplicates() - s0.duplicates()) / (double) misses,
                    s1.latency().meanNanos() / 1e3);
        }
    }

    /** One device, misses served by the C loop on a thread of ours (invalidations written directly). */
    public MissRun cRound(CLoop c) throws Exception {
        try (IotlbManager m = IotlbManager.create(null); NetLoopback l = NetLoopback.open(IOVA_CONFIG, "vhb%d");
             EventFd stopFd = EventFd.create(); Arena a = Arena.ofShared()) {
            ManagedDevice md = l.startWithIotlb(m, l.offsetTranslator(4096)); // maps the used rings
            md.unregister();
            MemorySegment counters = a.allocate(JAVA_LONG, 2);
            long ubase = l.memory().regions().get(0).segment().address();
            int[] rc = new int[1];
            Thread server = Thread.ofPlatform().name("bench-c-iotlb").start(() ->
                    rc[0] = c.serveMisses(l.net().fd(), stopFd.fd(), NetLoopback.IOVA_OFFSET, NetLoopback.GUEST_BASE,
                            windowSize(l), ubase, 4096L, l.net().iotlbMessagesV2(), counters));
            Runnable invalidate = unchecked(() ->
                    l.net().writeIotlb(IotlbMessage.invalidate(windowIova(), windowSize(l))));
            churn(List.of(l), invalidate, 2); // warm-up, as for Java
            long m0 = counters.getAtIndex(JAVA_LONG, 0), n0 = counters.getAtIndex(JAVA_LONG, 1);
            long t0 = System.nanoTime();
            long frames = churn(List.of(l), invalidate, seconds);
            double secs = (System.nanoTime() - t0) / 1e9;
            long m1 = counters.getAtIndex(JAVA_LONG, 0), n1 = counters.getAtIndex(JAVA_LONG, 1);
            stopFd.signal();
            server.join();
            if (rc[0] != 0) {
                throw new IllegalStateException("C miss loop failed: " + rc[0]);
            }
            return new MissRun((m1 - m0) / secs, frames / secs, 0, m1 == m0 ? 0 : (n1 - n0) / 1e3 / (m1 - m0));
        }
    }

    /** Alternating Java and C rounds on one device; {@code c} may be {@code null}. */
    public List<Figure> oneDevice(CLoop c, Progress progress) throws Exception {
        Samples jm = new Samples(ROUNDS), jf = new Samples(ROUNDS), dup = new Samples(ROUNDS), js = new Samples(ROUNDS);
        Samples cm = new Samples(ROUNDS), cf = new Samples(ROUNDS), cs = new Samples(ROUNDS);
        for (int round = 0; round < ROUNDS; round++) {
            String of = " (round " + (round + 1) + "/" + ROUNDS + ")";
            progress.say("IOTLB misses, 1 device, Java manager" + of);
            MissRun j = javaRound(round == ROUNDS - 1);
            jm.add(j.missesPerSecond());
            jf.add(j.framesPerSecond());
            dup.add(j.duplicateShare());
            js.add(j.meanServiceMicros());
            if (c != null) {
                progress.say("IOTLB misses, 1 device, plain C miss loop in the same process" + of);
                MissRun r = cRound(c);
                cm.add(r.missesPerSecond());
                cf.add(r.framesPerSecond());
                cs.add(r.meanServiceMicros());
            }
        }
        String median = "median of " + ROUNDS;
        List<Figure> figures = new ArrayList<>();
        figures.add(Figure.javaOnly("iotlb.miss.p50_us", "IOTLB miss p50 (Java manager)", detail.p50Micros(), "µs",
                "read MISS -> UPDATE written"));
        figures.add(Figure.javaOnly("iotlb.miss.p99_us", "IOTLB miss p99 (Java manager)", detail.p99Micros(), "µs",
                null));
        figures.add(Figure.javaOnly("iotlb.miss.heap_bytes", "heap allocated per miss (manager thread, steady state)",
                detail.bytesPerMiss(), "bytes/miss", detail.missesCounted() + " misses"));
        figures.add(new Figure("iotlb.one_device.misses_per_s", "IOTLB misses served, 1 device (4 KiB maps,"
                + " invalidate/32 frames; " + median + ")", jm.median(), c == null ? null : cm.median(), "misses/s",
                null));
        figures.add(new Figure("iotlb.one_device.service_us", "IOTLB miss mean service time, read MISS -> UPDATE"
                + " written (" + median + ")", js.median(), c == null ? null : cs.median(), "µs", null));
        figures.add(new Figure("iotlb.one_device.tx64_frames_per_s", "TX 64 B frames under that miss load, 1 device ("
                + median + ")", jf.median(), c == null ? null : cf.median(), "frames/s",
                String.format("Java: %.0f%% of misses were duplicates", 100 * dup.median())));
        return figures;
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
                churn(loops, () -> { }, 1);
                long misses0 = mds.stream().mapToLong(d -> d.stats().misses()).sum();
                long t0 = System.nanoTime();
                long frames = churn(loops, invalidateAll, seconds);
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
