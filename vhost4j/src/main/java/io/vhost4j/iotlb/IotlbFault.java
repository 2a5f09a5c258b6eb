package io.vhost4j.iotlb;

import io.vhost4j.Access;

/**
 * A miss the manager could not answer: the equivalent of a DMA fault.
 *
 * <p><b>Recovery.</b> The queue that missed stalls, and its used ring may say NO_NOTIFY, so the guest's driver
 * does not kick it again. The kernel keeps the miss it handed out pending, and an UPDATE that covers it wakes
 * the queue. So once the vIOMMU has the mapping: call {@link ManagedDevice#retryFaults()} (it translates the
 * refused misses again and writes their UPDATEs), or map the range with {@link ManagedDevice#prefault}; the
 * queue resumes without a kick. (On 6.1 and 6.12 a kick alone also makes the device miss again; on 7.3 it does
 * not, so a kick is not a recovery.)
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
        /**
         * The translator has no mapping, but the MISS was queued before the guest removed it: the manager still
         * holds a mapping for the address (the guest is unmapping it right now), or it answered a miss of this
         * very address and has invalidated that mapping since. The kernel does not de-duplicate misses, so this is
         * a duplicate whose access went through the first answer: nothing waits for it, and it is not kept for
         * {@link ManagedDevice#retryFaults()}. (A device that touched the same address again after the unmap would
         * look the same.)
         */
        STALE_MISS,
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
