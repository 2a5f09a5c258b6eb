package io.vhost4j.iotlb;

import io.vhost4j.Access;

/**
 * The manager's view of what one device's IOTLB holds: the mappings it wrote, oldest first, capped like the
 * kernel's (2048 by default, oldest evicted). INVALIDATE drops every overlapping entry, as the kernel
 * does. Arrays only: adding allocates nothing.
 */
final class MappingView {
    private final long[] first;
    private final long[] last;
    private final byte[] perm;
    private int size;

    MappingView(int capacity) {
        first = new long[capacity];
        last = new long[capacity];
        perm = new byte[capacity];
    }

    void add(long iova, long lastIova, Access access) {
        if (size == first.length) {
            removeAt(0);
        }
        first[size] = iova;
        last[size] = lastIova;
        perm[size] = (byte) access.code();
        size++;
    }

    private void removeAt(int i) {
        System.arraycopy(first, i + 1, first, i, size - i - 1);
        System.arraycopy(last, i + 1, last, i, size - i - 1);
        System.arraycopy(perm, i + 1, perm, i, size - i - 1);
        size--;
    }

    /** Drops every mapping overlapping {@code [iova, lastIova]}; returns how many. */
    int invalidate(long iova, long lastIova) {
        int removed = 0;
        for (int i = size - 1; i >= 0; i--) {
            if (Long.compareUnsigned(first[i], lastIova) <= 0 && Long.compareUnsigned(iova, last[i]) <= 0) {
                removeAt(i);
                removed++;
            }
        }
        return removed;
    }

    /** Whether some mapping covers {@code iova} with a permission allowing {@code access}. */
    boolean covers(long iova, Access access) {
        for (int i = size - 1; i >= 0; i--) {
            if (Long.compareUnsigned(first[i], iova) <= 0 && Long.compareUnsigned(iova, last[i]) <= 0
                    && (perm[i] & access.code()) == access.code()) {
                return true;
            }
        }
        return false;
    }

    int size() {
        return size;
    }

    void clear() {
        size = 0;
    }
}
