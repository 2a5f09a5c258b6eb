package io.vhost4j.testkit;

import io.vhost4j.AddressKind;

/**
 * How the device addresses guest memory: by guest-physical address (device IOTLB off), or by IOVA
 * (IOTLB on), where this library's guest driver uses {@code iova = gpa + iovaOffset} so that every IOVA
 * differs from its GPA.
 *
 * @param kind       {@link AddressKind#USER} when the IOTLB is off (rings by user address, buffers by GPA),
 *                   {@link AddressKind#IOVA} when it is on
 * @param iovaOffset added to a GPA to get its IOVA (IOVA kind only)
 */
public record DmaWindow(AddressKind kind, long iovaOffset) {
    /** Checks that there is a kind, and no offset without the IOTLB (it would be ignored). */
    public DmaWindow {
        java.util.Objects.requireNonNull(kind, "kind");
        if (kind != AddressKind.IOVA && iovaOffset != 0) {
            throw new IllegalArgumentException("an IOVA offset (0x" + Long.toHexString(iovaOffset) + ") needs the IOVA"
                    + " kind: with the device IOTLB off the device is given guest-physical addresses");
        }
    }

    /** IOTLB off: descriptors carry guest-physical addresses. */
    public static final DmaWindow PHYSICAL = new DmaWindow(AddressKind.USER, 0);

    /** IOTLB on, IOVA = GPA + {@code offset}. */
    public static DmaWindow iova(long offset) {
        return new DmaWindow(AddressKind.IOVA, offset);
    }

    /** The address the device is given for guest-physical {@code gpa}. */
    public long deviceAddress(long gpa) {
        return kind == AddressKind.IOVA ? gpa + iovaOffset : gpa;
    }

    /** The guest-physical address of device address {@code deviceAddr}. */
    public long guestAddress(long deviceAddr) {
        return kind == AddressKind.IOVA ? deviceAddr - iovaOffset : deviceAddr;
    }
}
