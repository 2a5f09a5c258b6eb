package io.vhost4j;

/**
 * Where a packed virtqueue stands ({@code VHOST_SET/GET_VRING_BASE} once {@link VirtioFeature#RING_PACKED} is
 * acked): the next available descriptor the device reads and the next used descriptor it writes, each a ring
 * position with the wrap counter it expects there. The kernel carries it in one 32-bit number, the available
 * half in bits 0-15 and the used half in bits 16-31, each a 15-bit position under its wrap counter (bit 15);
 * {@link #bits()} and {@link #fromBits(int)} convert.
 *
 * @param availIndex   the next available descriptor, 0..32767
 * @param availWrap    the driver's wrap counter the device expects there
 * @param usedIndex    the next used descriptor, 0..32767
 * @param usedWrap     the device's wrap counter there
 */
public record PackedVringBase(int availIndex, boolean availWrap, int usedIndex, boolean usedWrap) {
    /** The largest ring position (positions are 15 bits: a packed ring holds at most 32768 descriptors). */
    public static final int MAX_INDEX = 0x7fff;

    /** Checks both positions. */
    public PackedVringBase {
        if (availIndex < 0 || availIndex > MAX_INDEX || usedIndex < 0 || usedIndex > MAX_INDEX) {
            throw new IllegalArgumentException("packed ring positions must be in 0.." + MAX_INDEX + ": avail "
                    + availIndex + ", used " + usedIndex);
        }
    }

    /** A ring at its start: both positions 0, both wrap counters 1 (as the virtio spec initialises them). */
    public static PackedVringBase initial() {
        return new PackedVringBase(0, true, 0, true);
    }

    /** The kernel's number: {@code avail | availWrap << 15 | used << 16 | usedWrap << 31}. */
    public int bits() {
        return availIndex | (availWrap ? 0x8000 : 0) | usedIndex << 16 | (usedWrap ? 0x8000_0000 : 0);
    }

    /** The state the kernel's number {@code bits} describes. */
    public static PackedVringBase fromBits(int bits) {
        return new PackedVringBase(bits & MAX_INDEX, (bits & 0x8000) != 0, (bits >>> 16) & MAX_INDEX,
                (bits & 0x8000_0000) != 0);
    }
}
