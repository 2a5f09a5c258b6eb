package io.vhost4j.iotlb;

import io.vhost4j.Access;
import io.vhost4j.MemoryRegion;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * The Java work of one miss, without the system calls: the resolver (translate, check, clip), coalescing over
 * contiguous 4 KiB entries, and the mapping view's lookups (the duplicate check of every answered miss, and the
 * stale-miss check of every refused one) at the kernel's full 2048 entries.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ResolverBenchmark {
    private static final long PAGE = 4096, GPA = 0x4000_0000L, IOVA = 0x10_4000_0000L, USER = 0x7f00_0000_0000L;
    private static final MemoryRegion[] MEMORY = {new MemoryRegion(GPA, 64L << 20, USER)};

    /** Bytes coalescing may grow an UPDATE to. */
    @Param({"65536"})
    public long coalesceBytes;

    private final Translator pages = (iova, access, out) -> out.set(iova & -PAGE, PAGE, (iova & -PAGE) - IOVA + GPA,
            Access.RW);
    private final Translation t = new Translation();
    private final MissResolver.Resolution r = new MissResolver.Resolution(), piece = new MissResolver.Resolution();
    private final MappingView view = new MappingView(2048);
    private long next;

    @Setup
    public void fill() {
        for (int i = 0; i < 2048; i++) {
            view.addAnswer(IOVA + 2 * i * PAGE, IOVA + 2 * i * PAGE + PAGE - 1, USER + 2 * i * PAGE, Access.RW,
                    IOVA + 2 * i * PAGE);
        }
    }

    private long nextIova() {
        next = (next + 7 * PAGE + 24) & ((16L << 20) - 1);
        return IOVA + next;
    }

    /** Translate, check and clip one miss (exact policy). */
    @Benchmark
    public long resolve() {
        MissResolver.resolve(nextIova(), Access.RO, pages, MEMORY, t, r);
        return r.size;
    }

    /** Resolve, then grow over contiguous 4 KiB entries up to {@link #coalesceBytes}. */
    @Benchmark
    public long resolveAndCoalesce() {
        MissResolver.resolve(nextIova(), Access.RO, pages, MEMORY, t, r);
        MissResolver.coalesce(r, Access.RO, coalesceBytes, pages, MEMORY, t, piece);
        return r.size;
    }

    /** The duplicate check of every answered miss: the newest {@value ManagedDevice#DUPLICATE_WINDOW} mappings. */
    @Benchmark
    public boolean viewCoversRecent() {
        return view.coversRecent(nextIova() | 1, Access.WO, ManagedDevice.DUPLICATE_WINDOW);
    }

    /**
     * The duplicate check of a miss beyond every mapping (a guest walking its IOVAs up, as the one-device bench
     * does between invalidations): the view's hull answers it without a scan.
     */
    @Benchmark
    public boolean viewCoversRecentBeyond() {
        return view.coversRecent(nextIova() + (32L << 20), Access.WO, ManagedDevice.DUPLICATE_WINDOW); // above all
    }

    /** A full scan of 2048 mappings ({@code isMapped}, and the stale check of a refused miss). */
    @Benchmark
    public boolean viewCoversAll() {
        return view.covers(nextIova() | 1, Access.WO);
    }

    /** The stale check of a refused miss: a scan of the last 512 dropped miss addresses. */
    @Benchmark
    public boolean viewAnsweredAndDropped() {
        return view.answeredAndDropped(nextIova());
    }
}
