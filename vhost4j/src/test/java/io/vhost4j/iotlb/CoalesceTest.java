package io.vhost4j.iotlb;

import io.vhost4j.Access;
import io.vhost4j.MemoryRegion;
import org.junit.jupiter.api.Test;

import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Coalescing and the neighbour walk of prefetch, over a page-table translator, without a kernel. */
class CoalesceTest {
    private static final long PAGE = 4096;
    private static final long GPA = 0x1000_0000L, SIZE = 64 * PAGE, USER = 0x7f00_0000_0000L;
    private static final long GPA2 = GPA + SIZE, USER2 = 0x7f80_0000_0000L; // gpa-contiguous, user-discontiguous
    private static final MemoryRegion[] MEMORY = {new MemoryRegion(GPA, SIZE, USER),
            new MemoryRegion(GPA2, SIZE, USER2)};
    private static final long IOVA = 0x8000_0000L;

    /** A vIOMMU with one 4 KiB entry per page. */
    private static final class Pages implements Translator {
        final TreeMap<Long, long[]> pages = new TreeMap<>(); // iova page -> {gpa, perm}

        Pages map(long iova, long gpa, int n, Access perm) {
            for (int i = 0; i < n; i++) {
                pages.put(iova + i * PAGE, new long[] {gpa + i * PAGE, perm.code()});
            }
            return this;
        }

        @Override
        public boolean translate(long iova, Access access, Translation out) {
            long[] e = pages.get(iova & -PAGE);
            return e != null && out.set(iova & -PAGE, PAGE, e[0], Access.of((int) e[1]));
        }
    }

    private static MissResolver.Resolution coalesced(Pages p, long miss, Access access, long max) {
        MissResolver.Resolution r = new MissResolver.Resolution(), piece = new MissResolver.Resolution();
        Translation t = new Translation();
        assertTrue(MissResolver.resolve(miss, access, p, MEMORY, t, r), r.toString());
        MissResolver.coalesce(r, access, max, p, MEMORY, t, piece);
        return r;
    }

    @Test
    void contiguousPagesOfOnePermissionBecomeOneUpdateOnBothSides() {
        Pages p = new Pages().map(IOVA, GPA, 16, Access.RW);
        MissResolver.Resolution r = coalesced(p, IOVA + 5 * PAGE + 7, Access.RO, 1 << 20);
        assertEquals(IOVA, r.first);
        assertEquals(16 * PAGE, r.size);
        assertEquals(USER, r.userAddr);
        assertEquals(Access.RW, r.perm);
        assertEquals(11 * PAGE - 7, r.fromMissed);
    }

    @Test
    void theBoundIsKeptAndAnEntryAboveItIsNotCut() {
        Pages p = new Pages().map(IOVA, GPA, 16, Access.RW);
        MissResolver.Resolution r = coalesced(p, IOVA + 8 * PAGE, Access.RO, 3 * PAGE);
        assertEquals(3 * PAGE, r.size);
        assertEquals(IOVA + 8 * PAGE, r.first); // upwards first
        Translator huge = (iova, access, out) -> out.set(IOVA, 8 * PAGE, GPA, Access.RW);
        MissResolver.Resolution h = new MissResolver.Resolution();
        assertTrue(MissResolver.resolve(IOVA, Access.RO, huge, MEMORY, new Translation(), h));
        MissResolver.coalesce(h, Access.RO, PAGE, huge, MEMORY, new Translation(), new MissResolver.Resolution());
        assertEquals(8 * PAGE, h.size);
    }

    @Test
    void growthStopsAtAnotherPermissionAHoleAGpaJumpAndTheEndOfGuestMemory() {
        Pages p = new Pages()
                .map(IOVA, GPA, 4, Access.RW)
                .map(IOVA + 4 * PAGE, GPA + 4 * PAGE, 1, Access.RO)         // other permission above
                .map(IOVA - PAGE, GPA + 40 * PAGE, 1, Access.RW);           // not contiguous in gpa below
        MissResolver.Resolution r = coalesced(p, IOVA + PAGE, Access.RO, 1 << 20);
        assertEquals(IOVA, r.first);
        assertEquals(4 * PAGE, r.size);

        Pages q = new Pages().map(IOVA, GPA, 2, Access.RW).map(IOVA + 3 * PAGE, GPA + 3 * PAGE, 2, Access.RW);
        assertEquals(2 * PAGE, coalesced(q, IOVA, Access.WO, 1 << 20).size); // a hole at IOVA + 2 pages

        // The last page of the first region and the first of the second are gpa-contiguous, but their user
        // addresses are not: one UPDATE cannot cover both.
        Pages edge = new Pages().map(IOVA, GPA + SIZE - 2 * PAGE, 4, Access.RW);
        MissResolver.Resolution e = coalesced(edge, IOVA, Access.RO, 1 << 20);
        assertEquals(2 * PAGE, e.size);
        assertEquals(USER + SIZE - 2 * PAGE, e.userAddr);

        // Guest memory ends: the next page translates outside it.
        Pages out = new Pages().map(IOVA, GPA2 + SIZE - PAGE, 2, Access.RW);
        assertEquals(PAGE, coalesced(out, IOVA, Access.RO, 1 << 20).size);
    }

    @Test
    void noGrowthAcrossTheTopOrTheBottomOfTheAddressSpace() {
        long top = -PAGE; // 0xffff_ffff_ffff_f000
        Pages p = new Pages().map(top, GPA, 1, Access.RW).map(0, GPA + PAGE, 1, Access.RW);
        MissResolver.Resolution r = coalesced(p, top, Access.RO, 1 << 20);
        assertEquals(top, r.first);
        assertEquals(PAGE, r.size);
        MissResolver.Resolution low = coalesced(p, 0, Access.RO, 1 << 20);
        assertEquals(0, low.first);
        assertEquals(PAGE, low.size);
    }

    @Test
    void beyondResolvesTheNextEntryInEitherDirection() {
        Pages p = new Pages().map(IOVA, GPA + 10 * PAGE, 1, Access.RW).map(IOVA - PAGE, GPA + 3 * PAGE, 1, Access.RO);
        MissResolver.Resolution r = new MissResolver.Resolution(), next = new MissResolver.Resolution();
        Translation t = new Translation();
        assertTrue(MissResolver.resolve(IOVA, Access.RO, p, MEMORY, t, r));
        assertTrue(MissResolver.beyond(r, false, Access.RO, p, MEMORY, t, next));
        assertEquals(IOVA - PAGE, next.first);
        assertEquals(USER + 3 * PAGE, next.userAddr);
        assertEquals(Access.RO, next.perm);
        assertFalse(MissResolver.beyond(r, true, Access.RO, p, MEMORY, t, next));
    }

    @Test
    void policiesCheckTheirBounds() {
        assertTrue(MappingPolicy.exact().isExact());
        assertEquals("coalescing(8192)+prefetch(4)", MappingPolicy.coalescing(8192).withPrefetch(4).toString());
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> MappingPolicy.coalescing(0));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> MappingPolicy.exact().withPrefetch(MappingPolicy.MAX_PREFETCH + 1));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> new MappingPolicy(-1, 0));
    }
}
