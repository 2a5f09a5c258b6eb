package io.vhost4j;

import static io.vhost4j.internal.gen.VhostH.*;

/** Device-independent virtio feature bits (virtio 1.x, section 6), as offered by vhost devices. */
public enum VirtioFeature implements Feature {
    NOTIFY_ON_EMPTY(VIRTIO_F_NOTIFY_ON_EMPTY()),
    RING_INDIRECT_DESC(VIRTIO_RING_F_INDIRECT_DESC()),
    RING_EVENT_IDX(VIRTIO_RING_F_EVENT_IDX()),
    VERSION_1(VIRTIO_F_VERSION_1()),
    /** Device addresses are IOVAs translated by the device IOTLB (old name IOMMU_PLATFORM). */
    ACCESS_PLATFORM(VIRTIO_F_ACCESS_PLATFORM()),
    RING_PACKED(VIRTIO_F_RING_PACKED()),
    IN_ORDER(VIRTIO_F_IN_ORDER()),
    ORDER_PLATFORM(VIRTIO_F_ORDER_PLATFORM()),
    SR_IOV(VIRTIO_F_SR_IOV()),
    RING_RESET(VIRTIO_F_RING_RESET());

    private final int bit;

    VirtioFeature(int bit) { this.bit = bit; }

    @Override
    public int bit() { return bit; }
}
