package io.vhost4j.testkit;

import java.util.BitSet;

/**
 * Page-granular IOVA allocation the way Linux's {@code alloc_iova_fast} does it for a DMA API: a range freed
 * recently is handed out again first (last freed, first reused, per size: the "rcache", for sizes up to
 * {@value #CACHED_SIZES} pages); otherwise top down from the end of the space, each allocation just below the
 * previous one, wrapping to the top once the bottom is reached. Not thread-safe.
 */
public final class IovaAllocator {
    private static final long PAGE = 4096;
    private final long base;
    private final int pages;
    private static final int CACHED_SIZES = 32, CACHE_DEPTH = 256;
    private final BitSet used;   // allocated, or kept in the cache
    private final BitSet live;   // handed out and not freed
    private final int[] sizeAt;  // pages of the live allocation starting at each page, else 0
    private final long[][] cache = new long[CACHED_SIZES + 1][CACHE_DEPTH];
    private final int[] cached = new int[CACHED_SIZES + 1];
    private int cursor; // allocations search below this page index
    private int inUse;

    /** IOVAs {@code [base, base + pages * 4096)}; {@code base} page-aligned, the space below 2^64. */
    public IovaAllocator(long base, int pages) {
        if ((base & (PAGE - 1)) != 0 || pages <= 0) {
            throw new IllegalArgumentException("IOVA space at 0x" + Long.toHexString(base) + " of " + pages + " pages");
        }
        if (Long.compareUnsigned(base + (pages * PAGE - 1), base) < 0) {
            throw new IllegalArgumentException("IOVA space at 0x" + Long.toHexString(base) + " of " + pages
                    + " pages wraps past 2^64");
        }
        this.base = base;
        this.pages = pages;
        this.used = new BitSet(pages);
        this.live = new BitSet(pages);
        this.sizeAt = new int[pages];
        this.cursor = pages;
    }

    /** The first page-aligned IOVA of {@code n} free pages, highest first below the last allocation; -1 if none. */
    public long allocate(int n) {
        if (n <= 0 || n > pages) {
            throw new IllegalArgumentException(n + " pages");
        }
        int at;
        if (n <= CACHED_SIZES && cached[n] > 0) {
            at = (int) cache[n][--cached[n]];
        } else {
            at = findBelow(cursor, n);
            if (at < 0) {
                at = findBelow(pages, n);
            }
            if (at < 0) {
                return -1;
            }
            used.set(at, at + n);
            cursor = at;
        }
        live.set(at, at + n);
        sizeAt[at] = n;
        inUse += n;
        return base + at * PAGE;
    }

    /** The highest index {@code i} with {@code [i, i+n)} free and {@code i + n <= limit}, or -1. */
    private int findBelow(int limit, int n) {
        int end = limit; // exclusive end of the candidate run
        while (end >= n) {
            int busy = used.previousSetBit(end - 1);
            if (busy < end - n) {
                return end - n;
            }
            end = busy;
        }
        return -1;
    }

    /** Whether {@code [iova, iova + n pages)} is one allocation {@link #allocate} handed out and not freed since. */
    public boolean isAllocated(long iova, int n) {
        long off = iova - base;
        return n > 0 && (off & (PAGE - 1)) == 0 && Long.compareUnsigned(off / PAGE, pages) < 0
                && sizeAt[(int) (off / PAGE)] == n;
    }

    /**
     * Frees {@code n} pages from {@code iova}: exactly an allocation {@link #allocate} returned, as the DMA API
     * unmaps exactly what it mapped.
     *
     * @throws IllegalArgumentException for anything else (a part of one, one freed already, never allocated)
     */
    public void free(long iova, int n) {
        if (!isAllocated(iova, n)) {
            throw new IllegalArgumentException("0x" + Long.toHexString(iova) + " (" + n + " pages) was not allocated"
                    + " as one allocation (or was freed already)");
        }
        int at = (int) ((iova - base) / PAGE);
        sizeAt[at] = 0;
        live.clear(at, at + n);
        inUse -= n;
        if (n <= CACHED_SIZES) {
            if (cached[n] == CACHE_DEPTH) { // full: the oldest goes back to the space
                int old = (int) cache[n][0];
                used.clear(old, old + n);
                System.arraycopy(cache[n], 1, cache[n], 0, CACHE_DEPTH - 1);
                cached[n]--;
            }
            cache[n][cached[n]++] = at;
        } else {
            used.clear(at, at + n);
        }
    }

    /** Pages handed out and not freed. */
    public int pagesInUse() {
        return inUse;
    }
}
