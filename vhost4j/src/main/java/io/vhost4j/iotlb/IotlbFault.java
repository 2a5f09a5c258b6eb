package io.vhost4j.iotlb;

import io.vhost4j.Access;

/**
 * A miss the manager could not answer: the equivalent of a DMA fault. The device's queue stays stalled
 * (or signals its error eventfd) until the VMM maps the address and the kernel misses again.
 *
 * @param iova   the address the device missed
 * @param access the access the kernel asked for
 * @param reason why it was not answered
 * @param detail a readable explanation
 */
public record IotlbFault(long iova, Access access, Reason reason, String detail) {
    /** Why a miss was not answered. */
    public enum Reason {
        /** The translator has no mapping for the IOVA. */
        NO_MAPPING,
        /** The translator's permission does not allow the access. */
        PERMISSION_DENIED,
        /** The translation points outside the guest memory the manager was given. */
        OUTSIDE_GUEST_MEMORY,
        /** The translator returned a range that does not contain the IOVA, or is empty or overflows. */
        BAD_TRANSLATION,
        /** The translator threw. */
        TRANSLATOR_ERROR,
        /** Reading the miss or writing the update failed in the kernel. */
        KERNEL_ERROR
    }

    @Override
    public String toString() {
        return "IotlbFault[" + reason + " iova=0x" + Long.toHexString(iova) + " " + access + ": " + detail + "]";
    }
}
