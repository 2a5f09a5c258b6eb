package io.vhost4j;

import static io.vhost4j.internal.gen.VhostH.*;

/** virtio-net device feature bits ({@code <linux/virtio_net.h>}). */
public enum NetFeature implements Feature {
    CSUM(VIRTIO_NET_F_CSUM()),
    GUEST_CSUM(VIRTIO_NET_F_GUEST_CSUM()),
    CTRL_GUEST_OFFLOADS(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS()),
    MTU(VIRTIO_NET_F_MTU()),
    MAC(VIRTIO_NET_F_MAC()),
    GSO(VIRTIO_NET_F_GSO()),
    GUEST_TSO4(VIRTIO_NET_F_GUEST_TSO4()),
    GUEST_TSO6(VIRTIO_NET_F_GUEST_TSO6()),
    GUEST_ECN(VIRTIO_NET_F_GUEST_ECN()),
    GUEST_UFO(VIRTIO_NET_F_GUEST_UFO()),
    HOST_TSO4(VIRTIO_NET_F_HOST_TSO4()),
    HOST_TSO6(VIRTIO_NET_F_HOST_TSO6()),
    HOST_ECN(VIRTIO_NET_F_HOST_ECN()),
    HOST_UFO(VIRTIO_NET_F_HOST_UFO()),
    /** Receive buffers may be merged: the header carries {@code num_buffers}. */
    MRG_RXBUF(VIRTIO_NET_F_MRG_RXBUF()),
    STATUS(VIRTIO_NET_F_STATUS()),
    CTRL_VQ(VIRTIO_NET_F_CTRL_VQ()),
    CTRL_RX(VIRTIO_NET_F_CTRL_RX()),
    CTRL_VLAN(VIRTIO_NET_F_CTRL_VLAN()),
    CTRL_RX_EXTRA(VIRTIO_NET_F_CTRL_RX_EXTRA()),
    GUEST_ANNOUNCE(VIRTIO_NET_F_GUEST_ANNOUNCE()),
    MQ(VIRTIO_NET_F_MQ()),
    CTRL_MAC_ADDR(VIRTIO_NET_F_CTRL_MAC_ADDR()),
    NOTF_COAL(VIRTIO_NET_F_NOTF_COAL()),
    HASH_REPORT(VIRTIO_NET_F_HASH_REPORT()),
    RSS(VIRTIO_NET_F_RSS()),
    RSC_EXT(VIRTIO_NET_F_RSC_EXT()),
    STANDBY(VIRTIO_NET_F_STANDBY()),
    SPEED_DUPLEX(VIRTIO_NET_F_SPEED_DUPLEX());

    private final int bit;

    NetFeature(int bit) { this.bit = bit; }

    @Override
    public int bit() { return bit; }
}
