package io.vhost4j.iotlb;

import io.vhost4j.Access;

/**
 * The answer a {@link Translator} fills in: IOVAs {@code [iova, iova + size)} map to guest-physical
 * {@code [guestPhysAddr, ...)} with permission {@code perm}. Mutable and reused by the manager, so that
 * serving a miss allocates nothing.
 */
public final class Translation {
    private long iova;
    private long size;
    private long guestPhysAddr;
    private Access perm;

    /**
     * Sets the translation; returns {@code true} for use as the translator's result. Nothing is checked here: the
     * manager checks the answer before it writes anything, and reports a range that is empty, of 2^63 bytes or more,
     * wraps at 2^64 (in IOVA or guest-physical space) or does not hold the missed IOVA, or a {@code null} permission,
     * as a {@link IotlbFault.Reason#BAD_TRANSLATION} fault.
     */
    public boolean set(long iova, long size, long guestPhysAddr, Access perm) {
        this.iova = iova;
        this.size = size;
        this.guestPhysAddr = guestPhysAddr;
        this.perm = perm;
        return true;
    }

    void clear() {
        set(0, 0, 0, null);
    }

    /** First IOVA of the range. */
    public long iova() { return iova; }

    /** Length of the range in bytes. */
    public long size() { return size; }

    /** Guest-physical address of {@link #iova()}. */
    public long guestPhysAddr() { return guestPhysAddr; }

    /** Permission the vIOMMU grants on the range. */
    public Access perm() { return perm; }

    @Override
    public String toString() {
        return "Translation[iova=0x" + Long.toHexString(iova) + ", size=0x" + Long.toHexString(size) + ", gpa=0x"
                + Long.toHexString(guestPhysAddr) + ", " + perm + "]";
    }
}
