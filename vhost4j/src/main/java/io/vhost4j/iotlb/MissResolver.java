package io.vhost4j.iotlb;

import io.vhost4j.Access;
import io.vhost4j.MemoryRegion;

/**
 * The policy of one miss, without I/O: the translator's answer for a missed IOVA, checked and clipped to the
 * guest memory, becomes the UPDATE to write, or a fault. What the kernel is told comes only from here:
 * the permission is the translator's (never the MISS's), the range never leaves the region of guest memory
 * that holds the missed address, and no arithmetic wraps at 2^64.
 */
final class MissResolver {
    private MissResolver() {}

    /** What one miss resolves to: an UPDATE ({@link #fault} {@code null}) or a fault. Mutable and reused. */
    static final class Resolution {
        IotlbFault.Reason fault;
        String detail;
        long first, size, userAddr;
        Access perm;
        /** Bytes mapped from the missed IOVA on (0 after a fault): where a range walk goes on. */
        long fromMissed;

        long last() {
            return first + (size - 1);
        }

        /** An UPDATE of {@code [first, last]} at {@code user} for the miss of {@code missed}, which it holds. */
        void answerWith(long first, long last, long user, Access perm, long missed) {
            fault = null;
            detail = null;
            this.first = first;
            size = last - first + 1; // a view entry is never all of 2^64 (the resolver refuses 2^63 bytes or more)
            userAddr = user;
            this.perm = perm;
            fromMissed = last - missed + 1;
        }

        void copyFrom(Resolution o) {
            fault = o.fault;
            detail = o.detail;
            first = o.first;
            size = o.size;
            userAddr = o.userAddr;
            perm = o.perm;
            fromMissed = o.fromMissed;
        }

        private void fault(IotlbFault.Reason reason, String why) {
            fault = reason;
            detail = why;
            fromMissed = 0;
        }

        @Override
        public String toString() {
            return fault != null ? "fault " + fault + ": " + detail : "UPDATE iova=0x" + Long.toHexString(first)
                    + " size=0x" + Long.toHexString(size) + " uaddr=0x" + Long.toHexString(userAddr) + " " + perm;
        }
    }

    /**
     * Resolves a miss of {@code iova} for {@code access} through {@code translator} into {@code out}, using
     * {@code t} as the translator's scratch answer.
     *
     * @return whether it resolved to an UPDATE
     */
    static boolean resolve(long iova, Access access, Translator translator, MemoryRegion[] guestMemory,
                           Translation t, Resolution out) {
        t.clear();
        boolean found;
        try {
            found = translator.translate(iova, access, t);
        } catch (Throwable e) {
            out.fault(IotlbFault.Reason.TRANSLATOR_ERROR, e.toString());
            return false;
        }
        if (!found) {
            out.fault(IotlbFault.Reason.NO_MAPPING, "the translator has no mapping");
            return false;
        }
        long tFirst = t.iova(), tSize = t.size(), tGpa = t.guestPhysAddr();
        if (tSize <= 0                                                  // empty, or 2^63 and more
                || Long.compareUnsigned(tFirst + (tSize - 1), tFirst) < 0   // the IOVA range wraps
                || Long.compareUnsigned(tGpa + (tSize - 1), tGpa) < 0       // the guest-physical range wraps
                || Long.compareUnsigned(iova - tFirst, tSize) >= 0          // the missed IOVA is not in it
                || t.perm() == null) {
            out.fault(IotlbFault.Reason.BAD_TRANSLATION, t.toString());
            return false;
        }
        if (!t.perm().allows(access)) {
            out.fault(IotlbFault.Reason.PERMISSION_DENIED, "vIOMMU grants " + t.perm());
            return false;
        }
        long gpa = tGpa + (iova - tFirst);
        MemoryRegion region = null;
        for (MemoryRegion r : guestMemory) { // an array: no iterator
            if (Long.compareUnsigned(gpa - r.guestPhysAddr(), r.size()) < 0) {
                region = r;
                break;
            }
        }
        if (region == null) {
            out.fault(IotlbFault.Reason.OUTSIDE_GUEST_MEMORY, "gpa 0x" + Long.toHexString(gpa));
            return false;
        }
        // Clip the translated range to the region holding the missed address, on both sides.
        long below = minUnsigned(iova - tFirst, gpa - region.guestPhysAddr());
        long above = minUnsigned(tFirst + (tSize - 1) - iova, region.lastGuestPhysAddr() - gpa);
        out.fault = null;
        out.detail = null;
        out.first = iova - below;
        out.size = below + above + 1;
        out.userAddr = region.userAddr() + (gpa - region.guestPhysAddr()) - below;
        out.perm = t.perm();
        out.fromMissed = above + 1;
        return true;
    }

    /**
     * Grows the UPDATE in {@code r} over the IOVAs on both sides that the translator maps with exactly the same
     * permission onto the user addresses that continue {@code r}'s, until {@code r} spans {@code maxBytes} (an
     * {@code r} already that large is left as it is). Each neighbour is resolved like a miss, so it is clipped to
     * guest memory; a neighbour that does not resolve or does not continue {@code r} ends the growth on its side.
     * {@code t} and {@code piece} are scratch.
     */
    static void coalesce(Resolution r, Access access, long maxBytes, Translator translator,
                         MemoryRegion[] guestMemory, Translation t, Resolution piece) {
        while (r.size < maxBytes) { // upwards
            long next = r.first + r.size;
            if (next == 0 || !resolve(next, access, translator, guestMemory, t, piece) || piece.perm != r.perm
                    || piece.userAddr + (next - piece.first) != r.userAddr + r.size) {
                break;
            }
            long take = Math.min(piece.fromMissed, maxBytes - r.size);
            r.size += take;
            r.fromMissed += take;
        }
        while (r.size < maxBytes) { // downwards
            long prev = r.first - 1;
            if (r.first == 0 || !resolve(prev, access, translator, guestMemory, t, piece) || piece.perm != r.perm
                    || piece.userAddr + (prev - piece.first) + 1 != r.userAddr) {
                break;
            }
            long take = Math.min(prev - piece.first + 1, maxBytes - r.size);
            r.first -= take;
            r.userAddr -= take;
            r.size += take;
        }
    }

    /**
     * Resolves the translator entry just above ({@code up}) or just below {@code r}'s range into {@code out};
     * false at either end of the address space or where nothing resolves (no fault: nobody asked for it).
     */
    static boolean beyond(Resolution r, boolean up, Access access, Translator translator, MemoryRegion[] guestMemory,
                          Translation t, Resolution out) {
        long at = up ? r.first + r.size : r.first - 1;
        if (up ? at == 0 : r.first == 0) {
            return false;
        }
        return resolve(at, access, translator, guestMemory, t, out);
    }

    private static long minUnsigned(long a, long b) {
        return Long.compareUnsigned(a, b) <= 0 ? a : b;
    }
}
