package io.vhost4j.testkit;

import io.vhost4j.Access;
import io.vhost4j.iotlb.Translation;
import io.vhost4j.iotlb.Translator;

/**
 * A simple vIOMMU model: IOVA = GPA + {@code iovaOffset} over one guest-physical window, translated in
 * {@code granule}-sized pieces (4 KiB for fine-grained mappings, or the whole window), with per-range
 * permission overrides (or holes). Used by the tests, {@code vhostctl selftest} and the benchmarks; a
 * VMM plugs in its own {@link Translator}. Allocation-free; overrides may change while the manager runs.
 */
public final class OffsetTranslator implements Translator {
    private final long iovaOffset;
    private final long windowGpa;
    private final long windowSize;
    private final long granule;
    private final Access perm;
    private volatile long[][] overrideRanges = new long[0][];
    private volatile Access[] overridePerms = new Access[0];

    /**
     * @param iovaOffset IOVA minus GPA
     * @param windowGpa  first guest-physical address the vIOMMU exposes
     * @param windowSize bytes exposed
     * @param granule    size of each translation (a power of two), aligned in IOVA space
     * @param perm       permission of every translation outside overrides
     */
    public OffsetTranslator(long iovaOffset, long windowGpa, long windowSize, long granule, Access perm) {
        if (granule <= 0 || Long.bitCount(granule) != 1) {
            throw new IllegalArgumentException("granule " + granule + " is not a power of two");
        }
        java.util.Objects.requireNonNull(perm, "perm");
        long last = windowGpa + (windowSize - 1);
        if (windowSize <= 0 || Long.compareUnsigned(last, windowGpa) < 0
                || Long.compareUnsigned(last + iovaOffset, windowGpa + iovaOffset) < 0) {
            throw new IllegalArgumentException("window 0x" + Long.toHexString(windowGpa) + " + 0x"
                    + Long.toHexString(windowSize) + " at IOVA offset 0x" + Long.toHexString(iovaOffset)
                    + " is empty or wraps at 2^64 in guest-physical or IOVA space");
        }
        this.iovaOffset = iovaOffset;
        this.windowGpa = windowGpa;
        this.windowSize = windowSize;
        this.granule = granule;
        this.perm = perm;
    }

    /**
     * Gives IOVAs {@code [iova, iova+size)} permission {@code access}, or no mapping at all when
     * {@code access} is {@code null}. Later overrides win.
     */
    public synchronized void override(long iova, long size, Access access) {
        long[][] r = java.util.Arrays.copyOf(overrideRanges, overrideRanges.length + 1);
        Access[] p = java.util.Arrays.copyOf(overridePerms, overridePerms.length + 1);
        r[r.length - 1] = new long[] {iova, size};
        p[p.length - 1] = access;
        overridePerms = p;
        overrideRanges = r;
    }

    /** Removes every override. */
    public synchronized void clearOverrides() {
        overrideRanges = new long[0][];
        overridePerms = new Access[0];
    }

    @Override
    public boolean translate(long iova, Access access, Translation out) {
        long gpa = iova - iovaOffset;
        if (Long.compareUnsigned(gpa - windowGpa, windowSize) >= 0) {
            return false;
        }
        long first = Math.max(iova & -granule, windowGpa + iovaOffset);
        long last = Math.min((iova & -granule) + (granule - 1), windowGpa + iovaOffset + (windowSize - 1));
        Access p = perm;
        long[][] ranges = overrideRanges;
        Access[] perms = overridePerms;
        for (int i = ranges.length - 1; i >= 0; i--) {
            long oFirst = ranges[i][0], oLast = ranges[i][0] + (ranges[i][1] - 1);
            if (Long.compareUnsigned(iova - oFirst, ranges[i][1]) < 0) {
                if (perms[i] == null) {
                    return false;
                }
                p = perms[i];
                first = Math.max(first, oFirst);
                last = Math.min(last, oLast);
                break;
            }
            // keep the translation from spilling into an override range
            if (oFirst > iova && oFirst <= last) {
                last = oFirst - 1;
            }
            if (oLast < iova && oLast >= first) {
                first = oLast + 1;
            }
        }
        return out.set(first, last - first + 1, first - iovaOffset, p);
    }
}
