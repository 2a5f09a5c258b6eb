package io.vhost4j;

/**
 * The addresses of one split virtqueue's rings ({@code struct vhost_vring_addr}).
 *
 * <p>With the device IOTLB off the ring addresses are {@link AddressKind#USER user} addresses; with it on
 * they are {@link AddressKind#IOVA IOVAs}. {@code logGuestAddr} is a guest-physical address (an IOVA with
 * the IOTLB on) of the used ring for dirty logging, used only when {@code log} is set.
 *
 * @param index the virtqueue index
 * @param kind  what the three ring addresses are
 * @param desc  descriptor table (16-byte aligned)
 * @param avail available ring (2-byte aligned)
 * @param used  used ring (4-byte aligned)
 * @param log   whether the used ring's writes are logged (VHOST_VRING_F_LOG)
 * @param logGuestAddr where the used ring's writes are logged
 */
public record VringAddr(int index, AddressKind kind, long desc, long avail, long used, boolean log,
                        long logGuestAddr) {

    /** Alignment the kernel requires for the descriptor table. */
    public static final int DESC_ALIGN = 16;
    /** Alignment the kernel requires for the available ring. */
    public static final int AVAIL_ALIGN = 2;
    /** Alignment the kernel requires for the used ring. */
    public static final int USED_ALIGN = 4;

    /** Validates the index, the alignment of each ring, and that user addresses are in user space. */
    public VringAddr {
        if (index < 0 || index > 0xffff) {
            throw new IllegalArgumentException("vring index " + index + " out of range 0..65535");
        }
        if (kind == null) {
            throw new NullPointerException("kind");
        }
        checkAlign("descriptor table", desc, DESC_ALIGN);
        checkAlign("available ring", avail, AVAIL_ALIGN);
        checkAlign("used ring", used, USED_ALIGN);
        if (kind == AddressKind.USER && (desc < 0 || avail < 0 || used < 0)) {
            throw new IllegalArgumentException("user ring addresses in the kernel's half of the address space: "
                    + "desc=0x" + Long.toHexString(desc) + ", avail=0x" + Long.toHexString(avail) + ", used=0x"
                    + Long.toHexString(used));
        }
    }

    private static void checkAlign(String what, long addr, int align) {
        if ((addr & (align - 1)) != 0) {
            throw new IllegalArgumentException(what + " address 0x" + Long.toHexString(addr)
                    + " is not " + align + "-byte aligned");
        }
    }

    /** Ring addresses in this process's address space (IOTLB off), no logging. */
    public static VringAddr ofUser(int index, long desc, long avail, long used) {
        return new VringAddr(index, AddressKind.USER, desc, avail, used, false, 0);
    }

    /** Ring addresses as IOVAs (IOTLB on), no logging. */
    public static VringAddr ofIova(int index, long desc, long avail, long used) {
        return new VringAddr(index, AddressKind.IOVA, desc, avail, used, false, 0);
    }

    /** This address with dirty logging of the used ring at {@code logGuestAddr}. */
    public VringAddr withLog(long logGuestAddr) {
        return new VringAddr(index, kind, desc, avail, used, true, logGuestAddr);
    }

    @Override
    public String toString() {
        return "VringAddr[" + index + ", " + kind + ", desc=0x" + Long.toHexString(desc) + ", avail=0x"
                + Long.toHexString(avail) + ", used=0x" + Long.toHexString(used)
                + (log ? ", log=0x" + Long.toHexString(logGuestAddr) : "") + "]";
    }
}
