package io.vhost4j;

/**
 * The I/O virtual addresses a vDPA device can use ({@code VHOST_VDPA_GET_IOVA_RANGE}): {@code first} to
 * {@code last} inclusive, both unsigned.
 *
 * @param first lowest usable IOVA
 * @param last  highest usable IOVA (inclusive)
 */
public record IovaRange(long first, long last) {
    /** Every 64-bit address. */
    public static final IovaRange ALL = new IovaRange(0, -1L);

    /** Checks that {@code first <= last} (unsigned). */
    public IovaRange {
        if (Long.compareUnsigned(first, last) > 0) {
            throw new IllegalArgumentException("IOVA range 0x" + Long.toHexString(first) + "..0x"
                    + Long.toHexString(last) + " is empty");
        }
    }

    /** Whether {@code [iova, iova + size)} lies inside; {@code size} must be positive and not wrap. */
    public boolean contains(long iova, long size) {
        if (size == 0 || Long.compareUnsigned(iova + (size - 1), iova) < 0) {
            return false;
        }
        return Long.compareUnsigned(iova, first) >= 0 && Long.compareUnsigned(iova + (size - 1), last) <= 0;
    }

    @Override
    public String toString() {
        return "0x" + Long.toHexString(first) + "..0x" + Long.toHexString(last);
    }
}
