package io.vhost4j.iotlb;

import io.vhost4j.Access;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The manager's building blocks that need no kernel: view and histogram. */
class IotlbPartsTest {

    @Test
    void mappingViewInvalidatesEveryOverlapAndEvictsTheOldest() {
        MappingView v = new MappingView(3);
        v.add(0x1000, 0x1fff, Access.RO, -1);
        v.add(0x2000, 0x2fff, Access.RW, 0x2010);
        v.add(0x1800, 0x27ff, Access.RW, -1); // overlaps both: kept, as in the kernel
        assertTrue(v.covers(0x1000, Access.RO));
        assertFalse(v.covers(0x1000, Access.WO));
        v.add(0x9000, 0x9fff, Access.RW, -1); // evicts 0x1000 (oldest)
        assertEquals(3, v.size());
        assertFalse(v.covers(0x1000, Access.RO));
        assertFalse(v.answeredAndDropped(0x2010));
        assertEquals(2, v.invalidate(0x2100, 0x2100)); // 0x2000.. and 0x1800..: everything overlapping
        assertTrue(v.answeredAndDropped(0x2010)); // the miss that entry answered: a later MISS of it is stale
        assertFalse(v.answeredAndDropped(0x2000)); // exactly that address only
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
}
