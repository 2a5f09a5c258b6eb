package io.vhost4j.testkit;

/**
 * A range of guest memory as the device sees it and as the guest sees it.
 *
 * @param deviceAddress    the address the device is given: an IOVA with the device IOTLB on, else the
 *                         guest-physical address itself (see {@link DmaWindow#deviceAddress})
 * @param guestPhysAddress the guest-physical address
 * @param size             bytes
 */
public record DmaRange(long deviceAddress, long guestPhysAddress, long size) {
    /** Checks the size. */
    public DmaRange {
        if (size <= 0) {
            throw new IllegalArgumentException("empty DMA range");
        }
        if (Long.compareUnsigned(deviceAddress + (size - 1), deviceAddress) < 0
                || Long.compareUnsigned(guestPhysAddress + (size - 1), guestPhysAddress) < 0) {
            throw new IllegalArgumentException("DMA range of " + size + " bytes at device address 0x"
                    + Long.toHexString(deviceAddress) + ", guest-physical 0x" + Long.toHexString(guestPhysAddress)
                    + " wraps past 2^64");
        }
    }

    /** The range of {@code size} bytes at guest-physical {@code gpa}, addressed through {@code dma}. */
    public static DmaRange of(DmaWindow dma, long gpa, long size) {
        java.util.Objects.requireNonNull(dma, "dma");
        return new DmaRange(dma.deviceAddress(gpa), gpa, size);
    }
}
