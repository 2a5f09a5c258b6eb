package io.vhost4j.cli.bench;

import io.vhost4j.testkit.NetLoopback;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;

/**
 * The TX load of the IOTLB benchmarks: 64-byte frames in batches, each batch flushed before the next; each frame
 * kicked on its own, or a batch published with one kick (a guest under load: {@code xmit_more}).
 */
final class Churn {
    private Churn() {}

    static final int BATCH = 32;
    private static final Duration WAIT = Duration.ofSeconds(5);

    /** {@value #BATCH} frames on every loop, each kicked, each batch flushed, then {@code afterBatch}; returns frames. */
    static long tx(List<NetLoopback> loops, Runnable afterBatch, double seconds) throws Exception {
        return tx(loops, afterBatch, seconds, false);
    }

    /** As {@link #tx(List, Runnable, double)}; with {@code batchKick}, one kick per batch. */
    static long tx(List<NetLoopback> loops, Runnable afterBatch, double seconds, boolean batchKick) throws Exception {
        MemorySegment frame = Arena.ofAuto().allocate(64);
        MemorySegment.copy(loops.get(0).frame(0, 64), 0, frame, 0, 64);
        long deadline = System.nanoTime() + (long) (seconds * 1e9), frames = 0;
        while (System.nanoTime() < deadline) {
            for (NetLoopback l : loops) {
                for (int i = 0; i < BATCH; i++) {
                    if (!(batchKick ? l.driver().queueTx(frame, WAIT) : l.driver().transmit(frame, WAIT))) {
                        throw new IllegalStateException("no TX slot came free");
                    }
                }
                if (batchKick) {
                    l.driver().kickTx();
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
}
