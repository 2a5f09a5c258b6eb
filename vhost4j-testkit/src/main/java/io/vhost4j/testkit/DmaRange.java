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
    }

    /** The range of {@code size} bytes at guest-physical {@code gpa}, addressed through {@code dma}. */
    public static DmaRange of(DmaWindow dma, long gpa, long size) {
        return new DmaRange(dma.deviceAddress(gpa), gpa, size);
    }
}
