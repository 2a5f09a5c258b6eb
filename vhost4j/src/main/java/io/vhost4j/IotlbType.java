package io.vhost4j;

import static io.vhost4j.internal.gen.VhostH.*;

/** The {@code type} of a device-IOTLB message ({@code VHOST_IOTLB_*}). */
public enum IotlbType {
    /** Kernel → user: no translation for {@code iova} with {@code perm}. */
    MISS(VHOST_IOTLB_MISS()),
    /** User → kernel: map {@code [iova, iova+size)} to {@code uaddr} with {@code perm}. */
    UPDATE(VHOST_IOTLB_UPDATE()),
    /** User → kernel: drop every mapping overlapping {@code [iova, iova+size)}. */
    INVALIDATE(VHOST_IOTLB_INVALIDATE()),
    /** Kernel → user: access failed (defined, never sent by Linux). */
    ACCESS_FAIL(VHOST_IOTLB_ACCESS_FAIL()),
    /** User → kernel (vhost-vdpa with IOTLB_BATCH): start of a batch of updates. */
    BATCH_BEGIN(VHOST_IOTLB_BATCH_BEGIN()),
    /** User → kernel (vhost-vdpa with IOTLB_BATCH): end of a batch. */
    BATCH_END(VHOST_IOTLB_BATCH_END());

    private final int code;

    IotlbType(int code) { this.code = code; }

    /** The value of the {@code type} field. */
    public int code() { return code; }

    /** The type for a {@code type} value; {@link IllegalArgumentException} when unknown. */
    public static IotlbType of(int code) {
        for (IotlbType t : values()) {
            if (t.code == code) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown IOTLB message type " + code);
    }
}
