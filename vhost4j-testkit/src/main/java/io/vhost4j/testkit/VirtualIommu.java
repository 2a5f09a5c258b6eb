package io.vhost4j.testkit;

import io.vhost4j.Access;
import io.vhost4j.VhostException;
import io.vhost4j.iotlb.Translation;
import io.vhost4j.iotlb.Translator;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.time.Duration;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A vIOMMU as a Linux guest drives it, for workloads that look like a real guest's: a page table of 4 KiB entries
 * over an IOVA space, streaming mappings from a top-down {@link IovaAllocator} ({@link DmaMapper}), fixed
 * ("coherent") mappings for rings ({@link #mapAt}), and the guest's invalidation policy:
 * <ul>
 *   <li>{@link Mode#STRICT}: every unmap removes the entries and invalidates their range at once, and the IOVAs are
 *       free again right away (Linux {@code iommu.strict=1});</li>
 *   <li>{@link Mode#LAZY}: an unmap removes the entries but queues the IOVAs; when {@code flushPages} pages are
 *       queued or the oldest waited {@code flushAfter}, one INVALIDATE covers the whole streaming area and only
 *       then are the IOVAs reused (Linux's flush queue, {@code iommu.strict=0}).</li>
 * </ul>
 * It is the {@link Translator} of the device's IOTLB manager, and its invalidations go to an {@link Invalidator}
 * (the managed device's {@code invalidate}, or a direct write). Entries are removed before they are invalidated,
 * as {@code ManagedDevice.invalidate} requires. The page table lives in native memory ({@link #table()}: one
 * {@code u64} per page, {@code gpa | perm}, 0 when unmapped), so that a C miss loop can translate with it too.
 * {@code map}/{@code unmap} are for one driver thread at a time; {@code translate} may run on any thread.
 */
public final class VirtualIommu implements Translator, DmaMapper, AutoCloseable {
    /** When unmapped IOVAs are invalidated. */
    public enum Mode {
        /** Each unmap is invalidated at once, as a Linux guest's strict DMA mode does. */
        STRICT,
        /** Unmapped IOVAs are invalidated in batches, as a Linux guest's lazy (flush queue) mode does. */
        LAZY
    }

    /** Where invalidations go. */
    @FunctionalInterface
    public interface Invalidator {
        /** Invalidates {@code [iova, iova + size)} in the device's IOTLB. */
        void invalidate(long iova, long size) throws VhostException;
    }

    /**
     * What the model did so far.
     *
     * @param maps          streaming mappings made
     * @param unmaps        streaming mappings removed
     * @param invalidations INVALIDATE requests sent to the invalidator
     * @param pagesMapped   pages with an entry now (streaming and fixed)
     */
    public record Stats(long maps, long unmaps, long invalidations, int pagesMapped) {}

    private static final long PAGE = 4096;
    private static final VarHandle ENTRY = JAVA_LONG.varHandle();

    private final Arena arena = Arena.ofShared();
    private final MemorySegment table;
    private final long base;
    private final int pages;
    private final int streamingPages;
    private final IovaAllocator allocator;
    private final Mode mode;
    private final int flushPages;
    private final long flushAfterNanos;
    private volatile Invalidator invalidator = (iova, size) -> { };
    private long[] queued = new long[64]; // LAZY: {iova, pages} pairs waiting for the flush
    private int queuedCount, queuedPages;
    private long oldestQueuedAt;
    private long maps, unmaps, invalidations;
    private int pagesMapped;
    private boolean closed;

    private VirtualIommu(long base, int pages, int streamingPages, Mode mode, int flushPages, Duration flushAfter) {
        if ((base & (PAGE - 1)) != 0 || pages <= 0 || streamingPages <= 0 || streamingPages > pages
                || Long.compareUnsigned(base + pages * PAGE - 1, base) < 0) {
            throw new IllegalArgumentException("IOVA space 0x" + Long.toHexString(base) + " of " + pages
                    + " pages with " + streamingPages + " streaming pages");
        }
        java.util.Objects.requireNonNull(flushAfter, "flushAfter");
        if (flushPages <= 0 || flushAfter.isNegative() || flushAfter.isZero()) {
            throw new IllegalArgumentException("flush after " + flushPages + " pages or " + flushAfter);
        }
        this.base = base;
        this.pages = pages;
        this.streamingPages = streamingPages;
        this.mode = mode;
        this.flushPages = flushPages;
        this.flushAfterNanos = flushAfter.toNanos();
        this.table = arena.allocate(8L * pages, 8);
        this.allocator = new IovaAllocator(base, streamingPages);
    }

    /**
     * A strict vIOMMU over IOVAs {@code [base, base + pages * 4096)}, whose lowest {@code streamingPages} pages are
     * the streaming area {@link #map} allocates from (top down); the rest is for {@link #mapAt}.
     */
    public static VirtualIommu strict(long base, int pages, int streamingPages) {
        return new VirtualIommu(base, pages, streamingPages, Mode.STRICT, 1, Duration.ofNanos(1));
    }

    /** A lazy vIOMMU (see {@link #strict} for the space): one INVALIDATE per {@code flushPages} pages or {@code flushAfter}. */
    public static VirtualIommu lazy(long base, int pages, int streamingPages, int flushPages, Duration flushAfter) {
        return new VirtualIommu(base, pages, streamingPages, Mode.LAZY, flushPages, flushAfter);
    }

    /** Sends invalidations to {@code sink} from now on (until then they go nowhere: no device yet). */
    public void invalidateWith(Invalidator sink) {
        this.invalidator = java.util.Objects.requireNonNull(sink);
    }

    /** The invalidation policy. */
    public Mode mode() { return mode; }

    /** The page table: {@code pages()} entries of {@code u64}, {@code gpa | perm code}, 0 when unmapped. */
    public MemorySegment table() { return table; }

    /** The first IOVA of the space (entry 0 of {@link #table()}). */
    public long base() { return base; }

    /** Pages in the space. */
    public int pages() { return pages; }

    /** The streaming area: {@code [base, base + streamingPages * 4096)}. */
    public long streamingBytes() { return streamingPages * PAGE; }

    private int index(long iova) {
        long off = iova - base;
        if (Long.compareUnsigned(off, pages * PAGE) >= 0) {
            throw new IllegalArgumentException("IOVA 0x" + Long.toHexString(iova) + " outside the vIOMMU's space");
        }
        return (int) (off / PAGE);
    }

    private static int pagesOf(long addr, long size) {
        return (int) (((addr & (PAGE - 1)) + size + PAGE - 1) / PAGE);
    }

    /** Whether every page of {@code [iova, iova + n pages)} has an entry. */
    private boolean allMapped(long iova, int n) {
        int first = index(iova);
        for (int i = 0; i < n; i++) {
            if ((long) ENTRY.getAcquire(table, 8L * (first + i)) == 0) {
                return false;
            }
        }
        return true;
    }

    private void setEntries(long iova, long gpa, int n, Access perm) {
        int first = index(iova);
        index(iova + (n * PAGE - 1));
        for (int i = 0; i < n; i++) {
            long e = perm == null ? 0 : ((gpa & -PAGE) + i * PAGE) | perm.code();
            long old = (long) ENTRY.getAcquire(table, 8L * (first + i));
            pagesMapped += (e != 0 ? 1 : 0) - (old != 0 ? 1 : 0);
            ENTRY.setRelease(table, 8L * (first + i), e);
        }
    }

    /**
     * A fixed mapping (rings: {@code dma_alloc_coherent}): {@code size} bytes at {@code gpa} appear at {@code iova}
     * (same offset within the page) with {@code perm}, outside the streaming area.
     */
    public synchronized void mapAt(long iova, long gpa, long size, Access perm) {
        checkOpen();
        if ((iova & (PAGE - 1)) != (gpa & (PAGE - 1)) || size <= 0) {
            throw new IllegalArgumentException("IOVA 0x" + Long.toHexString(iova) + " and gpa 0x"
                    + Long.toHexString(gpa) + " differ within the page, or size " + size);
        }
        if (Long.compareUnsigned(iova - base, streamingBytes()) < 0) {
            throw new IllegalArgumentException("IOVA 0x" + Long.toHexString(iova) + " is in the streaming area");
        }
        setEntries(iova & -PAGE, gpa, pagesOf(gpa, size), java.util.Objects.requireNonNull(perm));
    }

    @Override
    public synchronized long map(long gpa, int size, Access access) throws VhostException {
        checkOpen();
        java.util.Objects.requireNonNull(access, "access");
        if (size <= 0) {
            throw new IllegalArgumentException("size " + size);
        }
        flushIfDue();
        int n = pagesOf(gpa, size);
        long iova = allocator.allocate(n);
        if (iova < 0 && queuedCount > 0) {
            flush();
            iova = allocator.allocate(n);
        }
        if (iova < 0) {
            throw new IllegalStateException("IOVA space exhausted: " + allocator.pagesInUse() + " pages mapped");
        }
        setEntries(iova, gpa, n, access);
        maps++;
        return iova + (gpa & (PAGE - 1));
    }

    @Override
    public synchronized void unmap(long deviceAddr, int size) throws VhostException {
        checkOpen();
        long iova = deviceAddr & -PAGE;
        int n = pagesOf(deviceAddr, size);
        if (Long.compareUnsigned(iova - base, streamingBytes()) >= 0) {
            throw new IllegalArgumentException("0x" + Long.toHexString(deviceAddr) + " is not a streaming mapping");
        }
        // Checked before anything changes: a second unmap (or one of another size) would otherwise take the pages of
        // whichever buffer got the IOVA since, out of the table and out of the device's IOTLB.
        if (size <= 0 || !allocator.isAllocated(iova, n) || !allMapped(iova, n)) {
            throw new IllegalArgumentException("0x" + Long.toHexString(deviceAddr) + " + " + size + " is not a live"
                    + " mapping of map(): unmapped already, never mapped, or mapped with another size");
        }
        setEntries(iova, 0, n, null); // the translator forgets it first, then the device's IOTLB
        unmaps++;
        if (mode == Mode.STRICT) {
            invalidate(iova, n * PAGE);
            allocator.free(iova, n);
            return;
        }
        if (queuedCount == 0) {
            oldestQueuedAt = System.nanoTime();
        }
        if (2 * queuedCount == queued.length) {
            queued = java.util.Arrays.copyOf(queued, 2 * queued.length);
        }
        queued[2 * queuedCount] = iova;
        queued[2 * queuedCount + 1] = n;
        queuedCount++;
        queuedPages += n;
        flushIfDue();
    }

    private void flushIfDue() throws VhostException {
        if (queuedCount > 0 && (queuedPages >= flushPages || System.nanoTime() - oldestQueuedAt >= flushAfterNanos)) {
            flush();
        }
    }

    /** LAZY: invalidates the streaming area now and frees the IOVAs queued for it (nothing when none is queued). */
    public synchronized void flush() throws VhostException {
        checkOpen();
        if (queuedCount == 0) {
            return;
        }
        invalidate(base, streamingBytes());
        for (int i = 0; i < queuedCount; i++) {
            allocator.free(queued[2 * i], (int) queued[2 * i + 1]);
        }
        queuedCount = 0;
        queuedPages = 0;
    }

    private void invalidate(long iova, long size) throws VhostException {
        invalidator.invalidate(iova, size);
        invalidations++;
    }

    @Override
    public boolean translate(long iova, Access access, Translation out) {
        long off = iova - base;
        if (Long.compareUnsigned(off, pages * PAGE) >= 0) {
            return false;
        }
        long e = (long) ENTRY.getAcquire(table, off / PAGE * 8);
        return e != 0 && out.set(iova & -PAGE, PAGE, e & -PAGE, Access.of((int) (e & 3)));
    }

    /** The counters now. */
    public synchronized Stats stats() {
        return new Stats(maps, unmaps, invalidations, pagesMapped);
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the vIOMMU is closed");
        }
    }

    /**
     * Frees the page table (call after the device stopped using this model): mapping, unmapping and flushing then
     * throw {@link IllegalStateException}, and so does a translation of an address in its space. Calling it again
     * does nothing.
     */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            arena.close();
        }
    }
}
