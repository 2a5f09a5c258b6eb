package io.vhost4j.iotlb;

import io.vhost4j.Access;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The manager's building blocks that need no kernel: view, histogram, translator. */
class IotlbPartsTest {

    @Test
    void mappingViewInvalidatesEveryOverlapAndEvictsTheOldest() {
        MappingView v = new MappingView(3);
        v.add(0x1000, 0x1fff, Access.RO);
        v.add(0x2000, 0x2fff, Access.RW);
        v.add(0x1800, 0x27ff, Access.RW); // overlaps both: kept, as in the kernel
        assertTrue(v.covers(0x1000, Access.RO));
        assertFalse(v.covers(0x1000, Access.WO));
        v.add(0x9000, 0x9fff, Access.RW); // evicts 0x1000 (oldest)
        assertEquals(3, v.size());
        assertFalse(v.covers(0x1000, Access.RO));
        assertEquals(2, v.invalidate(0x2100, 0x2100)); // 0x2000.. and 0x1800..: everything overlapping
        assertTrue(v.covers(0x9000, Access.RW));
        assertEquals(1, v.size());
    }

    @Test
    void histogramQuantilesAreWithinABucket() {
        LatencyHistogram h = new LatencyHistogram();
        for (int i = 1; i <= 1000; i++) {
            h.record(i * 1000L); // 1 µs .. 1 ms
        }
        LatencyHistogram.Snapshot s = h.snapshot();
        assertEquals(1000, s.count());
        assertEquals(500_500, s.meanNanos());
        assertTrue(Math.abs(s.p50Nanos() - 500_000) <= 500_000 / 8, s.toString());
        assertTrue(Math.abs(s.p99Nanos() - 990_000) <= 990_000 / 8, s.toString());
        assertEquals(1_000_000, s.maxNanos());
        h.reset();
        assertEquals(0, h.snapshot().count());
    }

    @Test
    void offsetTranslatorMapsGranulesInsideItsWindowAndHonoursOverrides() {
        long off = 0x10_0000_0000L;
        OffsetTranslator t = new OffsetTranslator(off, 0x4000_0000L, 0x10_0000, 4096, Access.RW);
        Translation out = new Translation();
        assertTrue(t.translate(off + 0x4000_1234L, Access.RO, out));
        assertEquals(off + 0x4000_1000L, out.iova());
        assertEquals(4096, out.size());
        assertEquals(0x4000_1000L, out.guestPhysAddr());
        assertEquals(Access.RW, out.perm());
        assertFalse(t.translate(off + 0x3fff_ffffL, Access.RO, out)); // below the window
        assertFalse(t.translate(off + 0x4010_0000L, Access.RO, out)); // above
        t.override(off + 0x4000_2000L, 0x100, Access.RO);
        assertTrue(t.translate(off + 0x4000_2010L, Access.WO, out));
        assertEquals(Access.RO, out.perm());
        assertEquals(0x100, out.size());
        assertTrue(t.translate(off + 0x4000_2800L, Access.WO, out)); // same page, after the override
        assertEquals(off + 0x4000_2100L, out.iova());
        t.override(off + 0x4000_3000L, 0x1000, null);
        assertFalse(t.translate(off + 0x4000_3004L, Access.RO, out));
        t.clearOverrides();
        assertTrue(t.translate(off + 0x4000_3004L, Access.RO, out));
    }
}
