package io.vhost4j;

/**
 * One region of guest memory as vhost sees it ({@code struct vhost_memory_region}): guest-physical
 * addresses {@code [guestPhysAddr, guestPhysAddr + size)} live at {@code userAddr} in this process.
 *
 * @param guestPhysAddr first guest-physical address
 * @param size          length in bytes, greater than 0
 * @param userAddr      where the region is mapped in this process (in user space: below 2^63)
 */
public record MemoryRegion(long guestPhysAddr, long size, long userAddr) {

    /** Rejects an empty region, ranges that overflow 64 bits and user ranges outside user space. */
    public MemoryRegion {
        if (size <= 0) {
            throw new IllegalArgumentException("memory region size must be > 0, got " + size);
        }
        if (Long.compareUnsigned(guestPhysAddr + (size - 1), guestPhysAddr) < 0) {
            throw new IllegalArgumentException("guest range 0x" + Long.toHexString(guestPhysAddr) + " + 0x"
                    + Long.toHexString(size) + " overflows 64 bits");
        }
        if (Long.compareUnsigned(userAddr + (size - 1), userAddr) < 0) {
            throw new IllegalArgumentException("user range 0x" + Long.toHexString(userAddr) + " + 0x"
                    + Long.toHexString(size) + " overflows 64 bits");
        }
        if (userAddr < 0 || userAddr + (size - 1) < 0) {
            throw new IllegalArgumentException("user range 0x" + Long.toHexString(userAddr) + " + 0x"
                    + Long.toHexString(size) + " reaches into the kernel's half of the address space");
        }
    }

    /** The last guest-physical address in the region (inclusive). */
    public long lastGuestPhysAddr() {
        return guestPhysAddr + (size - 1);
    }

    /** Whether the guest-physical ranges of the two regions share a byte. */
    public boolean overlaps(MemoryRegion other) {
        return Long.compareUnsigned(guestPhysAddr, other.lastGuestPhysAddr()) <= 0
                && Long.compareUnsigned(other.guestPhysAddr, lastGuestPhysAddr()) <= 0;
    }

    @Override
    public String toString() {
        return "MemoryRegion[gpa=0x" + Long.toHexString(guestPhysAddr) + ", size=0x" + Long.toHexString(size)
                + ", user=0x" + Long.toHexString(userAddr) + "]";
    }
}
