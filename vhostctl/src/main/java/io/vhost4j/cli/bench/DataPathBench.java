package io.vhost4j.cli.bench;

import io.vhost4j.TapOffload;
import io.vhost4j.TapOptions;
import io.vhost4j.iotlb.IotlbManager;
import io.vhost4j.testkit.Frames;
import io.vhost4j.testkit.VnetHeader;
import io.vhost4j.testkit.DmaWindow;
import io.vhost4j.testkit.NetDriver;
import io.vhost4j.testkit.NetLoopback;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** TX and RX frames/s through a tap with the test kit's driver, and the driver thread's CPU per frame. */
public final class DataPathBench {
    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final long WARM_UP_NANOS = 2_000_000_000L; // time-based: C2 compiles late in a slow guest

    /**
     * One direction's result.
     *
     * @param framesPerSecond   frames passed per second
     * @param userNanosPerFrame user CPU of the driver thread per frame (tick-sampled by the kernel: coarse)
     * @param cpuNanosPerFrame  user + kernel CPU of the driver thread per frame
     */
    public record Throughput(double framesPerSecond, double userNanosPerFrame, double cpuNanosPerFrame) {}

    private final double seconds;

    /** Measurements of {@code seconds} each, after a warm-up. */
    public DataPathBench(double seconds) {
        this.seconds = seconds;
    }

    private static MemorySegment frameOf(NetLoopback loop, int size) {
        MemorySegment frame = Arena.ofAuto().allocate(size);
        MemorySegment.copy(loop.frame(0, size), 0, frame, 0, size);
        return frame;
    }

    /** TX of {@code size}-byte frames, 256 at a time, for the configured time. */
    public Throughput tx(NetLoopback loop, int size) throws Exception {
        MemorySegment frame = frameOf(loop, size);
        NetDriver d = loop.driver();
        long warm = System.nanoTime() + WARM_UP_NANOS;
        while (System.nanoTime() < warm) {
            d.transmit(frame, WAIT);
        }
        d.flushTx(WAIT);
        long deadline = System.nanoTime() + (long) (seconds * 1e9);
        long t0 = System.nanoTime();
        CpuTime cpu0 = CpuTime.current();
        long sent = 0;
        while (System.nanoTime() < deadline) {
            for (int i = 0; i < 256; i++) {
                d.transmit(frame, WAIT);
            }
            sent += 256;
        }
        d.flushTx(WAIT);
        return result(sent, t0, cpu0);
    }

    /**
     * TX of 64 KiB TCP/IPv4 frames with a TSO4 header (checksum and segmentation left to the host side) through a tap
     * that takes TSO: megabytes per second of frames.
     */
    public double txGso(int frameSize) throws Exception {
        NetDriver.Config mergeable = new NetDriver.Config(256, true, false, 2048, DmaWindow.PHYSICAL, false, false);
        TapOptions tso = TapOptions.defaults().withOffloads(TapOffload.CSUM, TapOffload.TSO4, TapOffload.TSO6);
        try (NetLoopback loop = NetLoopback.open(mergeable, "vhb%d", tso).start()) {
            MemorySegment frame = Frames.tcp4(Arena.ofAuto().allocate(frameSize), 1, 1);
            VnetHeader gso = VnetHeader.tcp4(14, 1448);
            NetDriver d = loop.driver();
            long warm = System.nanoTime() + WARM_UP_NANOS, sent = 0;
            while (System.nanoTime() < warm) {
                d.transmit(frame, gso, WAIT);
            }
            d.flushTx(WAIT);
            long deadline = System.nanoTime() + (long) (seconds * 1e9), t0 = System.nanoTime();
            while (System.nanoTime() < deadline) {
                for (int i = 0; i < 16; i++) {
                    if (!d.transmit(frame, gso, WAIT)) {
                        throw new IllegalStateException("TX stalled");
                    }
                }
                sent += 16;
            }
            d.flushTx(WAIT);
            return sent * (double) frameSize / ((System.nanoTime() - t0) / 1e9) / 1e6;
        }
    }

    /** RX: frames sent into the tap in batches of 32 and received through the driver, for the configured time. */
    public Throughput rx(NetLoopback loop, int size) throws Exception {
        MemorySegment frame = frameOf(loop, size);
        MemorySegment buf = Arena.ofAuto().allocate(65536);
        long warm = System.nanoTime() + WARM_UP_NANOS;
        while (System.nanoTime() < warm) {
            rxBatch(loop, frame, buf);
        }
        long deadline = System.nanoTime() + (long) (seconds * 1e9);
        long t0 = System.nanoTime();
        CpuTime cpu0 = CpuTime.current();
        long got = 0;
        while (System.nanoTime() < deadline) {
            got += rxBatch(loop, frame, buf);
        }
        return result(got, t0, cpu0);
    }

    private static int rxBatch(NetLoopback loop, MemorySegment frame, MemorySegment buf) throws Exception {
        for (int i = 0; i < 32; i++) {
            loop.peer().send(frame);
        }
        int got = 0;
        for (int i = 0; i < 32; i++) {
            if (loop.driver().receive(buf, WAIT) == frame.byteSize()) {
                got++;
            }
        }
        return got;
    }

    private static Throughput result(long frames, long t0, CpuTime cpu0) {
        double secs = (System.nanoTime() - t0) / 1e9;
        CpuTime cpu = CpuTime.current().since(cpu0);
        return new Throughput(frames / secs, 1e3 * cpu.userMicrosPer(frames), 1e3 * cpu.cpuMicrosPer(frames));
    }

    /** The three figures of one direction: frames/s, and the driver thread's CPU and user time per frame. */
    private static void report(List<Figure> figures, String direction, int size, String cpuMeaning, Throughput t) {
        String k = "datapath." + direction.toLowerCase(java.util.Locale.ROOT) + size;
        String label = direction + " " + size + " B";
        figures.add(Figure.javaOnly(k + ".frames_per_s", label + ", IOTLB off", t.framesPerSecond(), "frames/s",
                String.format("%.1f MB/s", t.framesPerSecond() * size / 1e6)));
        figures.add(Figure.javaOnly(k + ".cpu_ns_per_frame", label + ": driver thread CPU per frame " + cpuMeaning,
                t.cpuNanosPerFrame(), "ns/frame", null));
        figures.add(Figure.javaOnly(k + ".user_ns_per_frame", label + ": of which user (Java side; tick-sampled)",
                t.userNanosPerFrame(), "ns/frame", null));
    }

    /** TX and RX at 64 and 1500 bytes with the IOTLB off, then TX 1500 with the IOTLB on (warm) against off. */
    public List<Figure> run(Progress progress) throws Exception {
        List<Figure> figures = new ArrayList<>();
        for (int size : new int[] {64, 1500}) {
            progress.say("data path, " + size + "-byte frames, IOTLB off");
            try (NetLoopback loop = NetLoopback.open(NetDriver.Config.defaults(), "vhb%d").start()) {
                report(figures, "TX", size, "(user + kernel)", tx(loop, size));
                report(figures, "RX", size, "(incl. sending)", rx(loop, size));
            }
        }
        progress.say("data path, 64 KiB GSO frames (TSO4), IOTLB off");
        int gsoFrame = NetDriver.MAX_GSO_FRAME - 1549; // 64 000 bytes: a 64 KB TCP/IPv4 frame
        figures.add(Figure.javaOnly("datapath.tx_gso64k.mb_per_s", "TX 64 KB TCP frames with TSO4 (GSO), IOTLB off",
                txGso(gsoFrame), "MB/s", gsoFrame + "-byte frames over 2 KiB descriptors, checksum and segmentation"
                        + " left to the host"));
        progress.say("TX 1500 B with the IOTLB on (one warm mapping) against off, same run");
        double off;
        try (NetLoopback loop = NetLoopback.open(NetDriver.Config.defaults(), "vhb%d").start()) {
            off = tx(loop, 1500).framesPerSecond();
        }
        NetDriver.Config iova = NetDriver.Config.defaults().withDma(DmaWindow.iova(NetLoopback.IOVA_OFFSET));
        try (IotlbManager m = IotlbManager.create(null); NetLoopback loop = NetLoopback.open(iova, "vhb%d")) {
            loop.startWithIotlb(m, loop.offsetTranslator(1L << 30));
            m.start();
            double on = tx(loop, 1500).framesPerSecond();
            figures.add(Figure.javaOnly("datapath.tx1500.iotlb_on_over_off", "TX 1500 B, IOTLB on (warm) / IOTLB off",
                    on / off, "ratio", String.format("on %.0f, off %.0f frames/s", on, off)));
        }
        return figures;
    }
}
