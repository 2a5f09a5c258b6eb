package io.vhost4j;

import java.util.EnumSet;
import java.util.Set;

/**
 * How a {@link Tap} is set up: the vnet header size, the offloads, the send buffer, and whether the interface
 * outlives its last file. Checked here, before the kernel sees any of it, so that a refused option never leaves a
 * half-configured interface behind.
 *
 * @param vnetHeaderSize  10 ({@code struct virtio_net_hdr}) or 12 ({@code virtio_net_hdr_v1} /
 *                        {@code _mrg_rxbuf}): what the guest's driver negotiated
 * @param offloads        the offloads to enable (see {@link TapOffload} for the rules)
 * @param sendBufferBytes the tap's send buffer ({@code TUNSETSNDBUF}), or 0 to keep the kernel's default
 * @param persistent      keep the interface when its last file is closed ({@code TUNSETPERSIST})
 */
public record TapOptions(int vnetHeaderSize, Set<TapOffload> offloads, int sendBufferBytes, boolean persistent) {
    /** Checks the options against the kernel's rules. */
    public TapOptions {
        java.util.Objects.requireNonNull(offloads, "offloads");
        if (vnetHeaderSize != 10 && vnetHeaderSize != 12) {
            throw new IllegalArgumentException("vnet header size " + vnetHeaderSize + ": vhost-net uses 10 or 12");
        }
        offloads = offloads.isEmpty() ? Set.of() : Set.copyOf(EnumSet.copyOf(offloads));
        if (!offloads.isEmpty() && !offloads.contains(TapOffload.CSUM)) {
            throw new IllegalArgumentException("offloads " + offloads + " need CSUM");
        }
        if (offloads.contains(TapOffload.TSO_ECN) && !offloads.contains(TapOffload.TSO4)
                && !offloads.contains(TapOffload.TSO6)) {
            throw new IllegalArgumentException("TSO_ECN needs TSO4 or TSO6");
        }
        if (offloads.contains(TapOffload.USO4) != offloads.contains(TapOffload.USO6)) {
            throw new IllegalArgumentException("USO4 and USO6 go together (the kernel refuses one alone)");
        }
        if (sendBufferBytes < 0) {
            throw new IllegalArgumentException("send buffer " + sendBufferBytes + " < 0");
        }
    }

    /** A 12-byte vnet header, no offloads, the default send buffer, not persistent. */
    public static TapOptions defaults() {
        return new TapOptions(Tap.VNET_HDR_SIZE, Set.of(), 0, false);
    }

    /** These options with {@code offloads}. */
    public TapOptions withOffloads(TapOffload... offloads) {
        java.util.Objects.requireNonNull(offloads, "offloads");
        for (TapOffload o : offloads) {
            java.util.Objects.requireNonNull(o, "a null offload");
        }
        return new TapOptions(vnetHeaderSize, offloads.length == 0 ? Set.of() : EnumSet.of(offloads[0], offloads),
                sendBufferBytes, persistent);
    }

    /** These options with a vnet header of {@code size} bytes. */
    public TapOptions withVnetHeaderSize(int size) {
        return new TapOptions(size, offloads, sendBufferBytes, persistent);
    }

    /** These options with a send buffer of {@code bytes}. */
    public TapOptions withSendBuffer(int bytes) {
        return new TapOptions(vnetHeaderSize, offloads, bytes, persistent);
    }

    /** These options, persistent or not. */
    public TapOptions withPersistent(boolean persistent) {
        return new TapOptions(vnetHeaderSize, offloads, sendBufferBytes, persistent);
    }
}
