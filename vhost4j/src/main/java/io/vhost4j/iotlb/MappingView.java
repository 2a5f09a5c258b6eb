package io.vhost4j.iotlb;

import io.vhost4j.Access;

/**
 * The manager's view of what one device's IOTLB holds: the mappings it wrote, oldest first, capped like the
 * kernel's (2048 by default, oldest evicted in O(1)). INVALIDATE drops every overlapping entry, as the
 * kernel does. A ring of primitive arrays: adding allocates nothing. Each entry keeps its user address (a
 * duplicate miss is answered from it again) and the IOVA of the miss it answered, and the last {@value #DROPPED}
 * of those whose entry an invalidation dropped are remembered, to tell a stale duplicate miss from a fault.
 */
final class MappingView {
    private final long[] first;
    private final long[] last;
    private final long[] userAddr;
    private final byte[] perm;
    private int head; // index of the oldest entry
    private int size;
    /**
     * Every entry lies in {@code [hullFirst, hullLast]} (unsigned) when {@code size > 0}: a miss outside it is no
     * duplicate, found without a scan (a guest walking its IOVAs up, or a top-down allocator walking down, misses
     * outside it almost every time). Exact after an invalidation; an eviction leaves it larger than needed.
     */
    private long hullFirst, hullLast;
    static final int DROPPED = 512;
    private final long[] missed;      // the IOVA of the miss an entry answers, where answers[] says it does
    private final boolean[] answers;
    private final long[] droppedMisses = new long[DROPPED];
    private int droppedNext, droppedCount; // a ring: the newest at droppedNext - 1

    MappingView(int capacity) {
        first = new long[capacity];
        last = new long[capacity];
        userAddr = new long[capacity];
        perm = new byte[capacity];
        missed = new long[capacity];
        answers = new boolean[capacity];
    }

    private int slot(int i) {
        int s = head + i;
        return s >= first.length ? s - first.length : s;
    }

    /** Adds a mapping that answers no miss (prefault, retry, prefetch). */
    void add(long iova, long lastIova, long user, Access access) {
        put(iova, lastIova, user, access, false, 0);
    }

    /** Adds a mapping that answers the miss of {@code missedIova} (any IOVA, the last one of 2^64 too). */
    void addAnswer(long iova, long lastIova, long user, Access access, long missedIova) {
        put(iova, lastIova, user, access, true, missedIova);
    }

    private void put(long iova, long lastIova, long user, Access access, boolean answer, long missedIova) {
        if (size == first.length) { // evict the oldest
            head = slot(1);
            size--;
        }
        if (size == 0) {
            hullFirst = iova;
            hullLast = lastIova;
        } else {
            hullFirst = Long.compareUnsigned(iova, hullFirst) < 0 ? iova : hullFirst;
            hullLast = Long.compareUnsigned(lastIova, hullLast) > 0 ? lastIova : hullLast;
        }
        int s = slot(size);
        first[s] = iova;
        last[s] = lastIova;
        userAddr[s] = user;
        perm[s] = (byte) access.code();
        missed[s] = missedIova;
        answers[s] = answer;
        size++;
    }

    /** Drops every mapping overlapping {@code [iova, lastIova]}, keeping the others in order; returns how many. */
    int invalidate(long iova, long lastIova) {
        int kept = 0;
        long keptFirst = -1, keptLast = 0; // the hull of the survivors
        for (int i = 0; i < size; i++) {
            int from = slot(i);
            if (Long.compareUnsigned(first[from], lastIova) <= 0 && Long.compareUnsigned(iova, last[from]) <= 0) {
                if (answers[from]) {
                    droppedMisses[droppedNext] = missed[from];
                    droppedNext = (droppedNext + 1) % DROPPED;
                    droppedCount = Math.min(droppedCount + 1, DROPPED);
                }
                continue;
            }
            keptFirst = Long.compareUnsigned(first[from], keptFirst) < 0 ? first[from] : keptFirst;
            keptLast = Long.compareUnsigned(last[from], keptLast) > 0 ? last[from] : keptLast;
            int to = slot(kept++);
            first[to] = first[from];
            last[to] = last[from];
            userAddr[to] = userAddr[from];
            perm[to] = perm[from];
            missed[to] = missed[from];
            answers[to] = answers[from];
        }
        int removed = size - kept;
        size = kept;
        hullFirst = keptFirst;
        hullLast = keptLast;
        return removed;
    }

    /** Whether some mapping covers {@code iova} with a permission allowing {@code access} (a scan of all). */
    boolean covers(long iova, Access access) {
        return coversRecent(iova, access, size);
    }

    /** As {@link #covers}, looking at the newest {@code n} mappings only: bounded work for the hot path. */
    boolean coversRecent(long iova, Access access, int n) {
        return findRecent(iova, access, n) >= 0;
    }

    /**
     * The newest of the newest {@code n} mappings that covers {@code iova} with a permission allowing
     * {@code access}, as a handle for {@link #first}, {@link #last}, {@link #userAddr} and {@link #perm}; -1 if none.
     * Valid until the view changes.
     */
    int findRecent(long iova, Access access, int n) {
        if (size == 0 || Long.compareUnsigned(iova - hullFirst, hullLast - hullFirst) > 0) {
            return -1; // outside every entry
        }
        for (int i = size - 1, end = Math.max(0, size - n); i >= end; i--) {
            int s = slot(i);
            if (Long.compareUnsigned(first[s], iova) <= 0 && Long.compareUnsigned(iova, last[s]) <= 0
                    && (perm[s] & access.code()) == access.code()) {
                return s;
            }
        }
        return -1;
    }

    long first(int handle) {
        return first[handle];
    }

    long last(int handle) {
        return last[handle];
    }

    long userAddr(int handle) {
        return userAddr[handle];
    }

    Access perm(int handle) {
        return Access.of(perm[handle]);
    }

    /** Whether a miss of exactly {@code iova} was answered by one of the last {@value #DROPPED} dropped entries. */
    boolean answeredAndDropped(long iova) {
        for (int i = 0; i < droppedCount; i++) {
            if (droppedMisses[i] == iova) {
                return true;
            }
        }
        return false;
    }

    int size() {
        return size;
    }
}
