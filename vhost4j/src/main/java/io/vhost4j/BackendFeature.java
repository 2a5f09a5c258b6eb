package io.vhost4j;

import static io.vhost4j.internal.gen.VhostH.*;

/**
 * vhost backend feature bits ({@code VHOST_GET/SET_BACKEND_FEATURES}); bit numbers, not masks.
 * vhost-net and vhost-vsock offer only {@link #IOTLB_MSG_V2}; the rest are vhost-vdpa's.
 */
public enum BackendFeature {
    /** IOTLB messages in the v2 layout ({@code struct vhost_msg_v2}, with an address-space id). */
    IOTLB_MSG_V2(VHOST_BACKEND_F_IOTLB_MSG_V2()),
    /** vhost-vdpa: UPDATEs between BATCH_BEGIN and BATCH_END reach the device as one map. */
    IOTLB_BATCH(VHOST_BACKEND_F_IOTLB_BATCH()),
    /** vhost-vdpa: the {@code asid} of v2 messages selects an address space. */
    IOTLB_ASID(VHOST_BACKEND_F_IOTLB_ASID()),
    /** vhost-vdpa: {@code VHOST_VDPA_SUSPEND} works. */
    SUSPEND(VHOST_BACKEND_F_SUSPEND()),
    /** vhost-vdpa, Linux 6.7+: {@code VHOST_VDPA_RESUME} works. */
    RESUME(VHOST_BACKEND_F_RESUME()),
    /** vhost-vdpa, Linux 6.7+: queues may be enabled after DRIVER_OK. */
    ENABLE_AFTER_DRIVER_OK(VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK()),
    /** vhost-vdpa, Linux 6.7+: a queue's rings may live in another group (address space) than its buffers. */
    DESC_ASID(VHOST_BACKEND_F_DESC_ASID()),
    /** vhost-vdpa, Linux 6.7+: the IOTLB survives a device reset. */
    IOTLB_PERSIST(VHOST_BACKEND_F_IOTLB_PERSIST());

    private final int bit;

    BackendFeature(int bit) { this.bit = bit; }

    /** The bit number. */
    public int bit() { return bit; }

    /** {@code 1L << bit()}. */
    public long mask() { return 1L << bit; }
}
