package io.vhost4j.cli.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.time.Duration;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** The plain-C side of the benchmarks: {@code native/cbench.c} built as a shared library, loaded into this JVM. */
public final class CLoop implements AutoCloseable {
    private final Arena arena = Arena.ofShared();
    private final MethodHandle getFeatures;
    private final MethodHandle serveMisses;
    private final MethodHandle serveMissesByTable;

    /** Loads the library at {@code path}. */
    public CLoop(Path path) {
        SymbolLookup c = SymbolLookup.libraryLookup(path, arena);
        Linker l = Linker.nativeLinker();
        getFeatures = l.downcallHandle(c.findOrThrow("cbench_get_features"),
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG));
        serveMisses = l.downcallHandle(c.findOrThrow("cbench_serve_misses"), FunctionDescriptor.of(JAVA_INT,
                JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT,
                JAVA_LONG, ADDRESS));
        serveMissesByTable = l.downcallHandle(c.findOrThrow("cbench_serve_misses_table"), FunctionDescriptor.of(
                JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT,
                JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG));
    }

    /** Slots of the counters the miss loops fill as they run. */
    public static final int COUNTERS = 5;
    /** Counter slot: misses answered. */
    public static final int ANSWERED = 0;
    /** Counter slot: total service nanoseconds of the answered misses. */
    public static final int SERVICE_NANOS = 1;
    /** Counter slot: misses refused (no mapping). */
    public static final int REFUSED = 2;
    /**
     * Counter slot: answered misses inside one of the 16 newest answers since the last invalidation, counted as the
     * Java manager counts its duplicates (for comparison only; the C loop answers them all).
     */
    public static final int DUPLICATES = 3;
    /** Counter slot the caller bumps before each INVALIDATE it writes: the C loop then forgets its newest answers. */
    public static final int INVALIDATIONS = 4;

    /**
     * Bumps {@link #INVALIDATIONS} in {@code counters}: call it before writing each INVALIDATE, so that a miss the
     * INVALIDATE causes is not counted as a duplicate of an answer from before it.
     */
    public static void countInvalidation(MemorySegment counters) {
        counters.setAtIndex(JAVA_LONG, INVALIDATIONS, counters.getAtIndex(JAVA_LONG, INVALIDATIONS) + 1);
    }

    /** Nanoseconds for {@code n} {@code ioctl(VHOST_GET_FEATURES)} calls on {@code fd} in a C loop. */
    public long getFeaturesNanos(int fd, long n) {
        long ns;
        try {
            ns = (long) getFeatures.invokeExact(fd, n);
        } catch (Throwable t) {
            throw new IllegalStateException("C ioctl loop failed", t);
        }
        if (ns < 0) {
            throw new IllegalStateException("C ioctl loop failed: errno " + -ns);
        }
        return ns;
    }

    /** How a C miss loop sleeps until misses are queued. */
    public enum Wait {
        /** One {@code poll()} of the vhost fd and the stop eventfd: the simplest loop for one device. */
        POLL,
        /** {@code epoll_wait()} on a set holding both, as a loop serving many devices (and the Java manager) waits. */
        EPOLL
    }

    /**
     * Serves {@code vhostFd}'s IOTLB misses in C until {@code stopFd} is signalled: IOVA = GPA + {@code iovaOffset}
     * over one window of guest memory at {@code userBase}, in {@code granule} pieces, sleeping as {@code wait} says
     * (after polling for {@code poll} after each miss, as {@link io.vhost4j.iotlb.IotlbManager#start(Duration)}
     * does). {@code counters} ({@link #COUNTERS} longs) receives the misses answered and refused and the service
     * time as it runs.
     *
     * @return 0, or the C loop's negative errno
     */
    public int serveMisses(int vhostFd, int stopFd, long iovaOffset, long gpaBase, long size, long userBase,
                           long granule, boolean v2, Wait wait, Duration poll, MemorySegment counters) {
        try {
            return (int) serveMisses.invokeExact(vhostFd, stopFd, iovaOffset, gpaBase, size, userBase, granule,
                    v2 ? 1 : 0, wait == Wait.EPOLL ? 1 : 0, poll.toNanos(), counters);
        } catch (Throwable t) {
            throw new IllegalStateException("C miss loop failed", t);
        }
    }

    /**
     * As {@link #serveMisses}, translating through a {@link io.vhost4j.testkit.VirtualIommu}'s page table
     * ({@code table}, {@code pages} entries from IOVA {@code base}), one page per UPDATE (exact). The service time of
     * answered miss {@code i} goes to {@code samples[i % samples.length]}. It sleeps in {@code poll()}, after polling
     * for {@code poll} after each miss.
     */
    public int serveMissesByTable(int vhostFd, int stopFd, MemorySegment table, long base, long pages, long gpaBase,
                                  long size, long userBase, boolean v2, Duration poll, MemorySegment counters,
                                  MemorySegment samples) {
        try {
            return (int) serveMissesByTable.invokeExact(vhostFd, stopFd, table, base, pages, gpaBase, size, userBase,
                    v2 ? 1 : 0, poll.toNanos(), counters, samples, samples.byteSize() / 8);
        } catch (Throwable t) {
            throw new IllegalStateException("C miss loop failed", t);
        }
    }

    @Override
    public void close() {
        arena.close();
    }
}
