package io.vhost4j;

import static io.vhost4j.internal.gen.VhostH.*;

/**
 * vhost backend feature bits ({@code VHOST_GET/SET_BACKEND_FEATURES}); bit numbers, not masks.
 * vhost-net and vhost-vsock offer only {@link #IOTLB_MSG_V2}.
 */
public enum BackendFeature {
    IOTLB_MSG_V2(VHOST_BACKEND_F_IOTLB_MSG_V2()),
    IOTLB_BATCH(VHOST_BACKEND_F_IOTLB_BATCH()),
    IOTLB_ASID(VHOST_BACKEND_F_IOTLB_ASID()),
    SUSPEND(VHOST_BACKEND_F_SUSPEND()),
    /** Linux 6.7+; not in the 6.1 header the bindings come from. */
    RESUME(5),
    /** Linux 6.7+; not in the 6.1 header the bindings come from. */
    ENABLE_AFTER_DRIVER_OK(6);

    private final int bit;

    BackendFeature(int bit) { this.bit = bit; }

    /** The bit number. */
    public int bit() { return bit; }

    /** {@code 1L << bit()}. */
    public long mask() { return 1L << bit; }
}
