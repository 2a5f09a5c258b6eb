package io.vhost4j;

import static io.vhost4j.internal.gen.VhostH.*;

/**
 * Offloads a tap accepts from its user ({@code TUNSETOFFLOAD}): what the tap may hand the guest and take from it
 * with the work still to do — a missing checksum, a frame to segment. The kernel's rules, checked in Java first
 * ({@link TapOptions}): every other offload needs {@link #CSUM}; {@link #TSO_ECN} needs {@link #TSO4} or
 * {@link #TSO6}; {@link #USO4} and {@link #USO6} go together (Linux 6.2+; older kernels refuse them with EINVAL).
 */
public enum TapOffload {
    /** {@code TUN_F_CSUM}: partial checksums. */
    CSUM(TUN_F_CSUM()),
    /** {@code TUN_F_TSO4}: TCP segmentation over IPv4. */
    TSO4(TUN_F_TSO4()),
    /** {@code TUN_F_TSO6}: TCP segmentation over IPv6. */
    TSO6(TUN_F_TSO6()),
    /** {@code TUN_F_TSO_ECN}: TSO with the ECN bit set. */
    TSO_ECN(TUN_F_TSO_ECN()),
    /** {@code TUN_F_UFO}: accepted for compatibility; Linux has not done UDP fragmentation offload since 4.14. */
    UFO(TUN_F_UFO()),
    /** {@code TUN_F_USO4} (0x20; Linux 6.2, newer than the 6.1 headers the bindings come from): UDP segmentation. */
    USO4(0x20),
    /** {@code TUN_F_USO6} (0x40, as {@link #USO4}). */
    USO6(0x40);

    private final int bit;

    TapOffload(int bit) {
        this.bit = bit;
    }

    /** The {@code TUN_F_*} bit. */
    public int bit() {
        return bit;
    }

    /** The {@code TUNSETOFFLOAD} argument for {@code offloads}. */
    static int bits(java.util.Set<TapOffload> offloads) {
        int b = 0;
        for (TapOffload o : offloads) {
            b |= o.bit;
        }
        return b;
    }
}
