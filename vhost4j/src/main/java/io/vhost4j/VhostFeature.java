package io.vhost4j;

import static io.vhost4j.internal.gen.VhostH.*;

/** Feature bits defined by vhost itself (in {@code <linux/vhost_types.h>}), negotiated like virtio bits. */
public enum VhostFeature implements Feature {
    /** Dirty-page logging of all writes (VHOST_F_LOG_ALL, bit 26). */
    LOG_ALL(VHOST_F_LOG_ALL()),
    /** vhost-net adds and strips the virtio-net header itself (VHOST_NET_F_VIRTIO_NET_HDR, bit 27). */
    NET_VIRTIO_NET_HDR(VHOST_NET_F_VIRTIO_NET_HDR());

    private final int bit;

    VhostFeature(int bit) { this.bit = bit; }

    @Override
    public int bit() { return bit; }
}
