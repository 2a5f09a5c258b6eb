package io.vhost4j;

/**
 * virtio-vsock device feature bits (virtio 1.2, 5.10.3). Not in the 6.1 uapi header the bindings are
 * generated from, hence spelled out here.
 */
public enum VsockFeature implements Feature {
    /** SOCK_STREAM connections. */
    STREAM(0),
    /** SOCK_SEQPACKET connections (Linux 5.14+). */
    SEQPACKET(1);

    private final int bit;

    VsockFeature(int bit) { this.bit = bit; }

    @Override
    public int bit() { return bit; }
}
