package io.vhost4j.iotlb;

import io.vhost4j.Access;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The manager's building blocks that need no kernel: view, histogram and device table. */
class IotlbPartsTest {

    /** A device whose only part in use is its token. */
    private static ManagedDevice device(long token) {
        return new ManagedDevice(null, null, null, java.util.List.of(), null, MappingPolicy.exact(), null, token);
    }

    @Test
    void deviceSlotsFindDevicesByTokenAndNeverByAStaleOne() {
        DeviceSlots slots = new DeviceSlots();
        java.util.List<ManagedDevice> added = new java.util.ArrayList<>();
        for (int i = 0; i < 9; i++) { // past the first array (4 slots): it grows
            added.add(slots.add(IotlbPartsTest::device));
        }
        java.util.Set<Long> tokens = new java.util.HashSet<>();
        for (ManagedDevice md : added) {
            assertTrue(md.token != 0, "0 is the manager's wake-up token");
            assertTrue(tokens.add(md.token), "tokens are unique");
            assertTrue(slots.get(md.token) == md);
        }
        assertEquals(9, slots.all().size());
        ManagedDevice gone = added.get(2);
        slots.remove(gone);
        assertEquals(null, slots.get(gone.token));
        ManagedDevice reused = slots.add(IotlbPartsTest::device);
        assertEquals((int) gone.token, (int) reused.token, "the free slot is reused");
        assertTrue(reused.token != gone.token, "with a new generation");
        assertEquals(null, slots.get(gone.token), "an event of the removed device finds nothing");
        assertTrue(slots.get(reused.token) == reused);
        slots.remove(gone); // removing again, or a device not there, changes nothing
        assertTrue(slots.get(reused.token) == reused);
        assertEquals(null, slots.get(-1L));
        assertEquals(null, slots.get(0L));
        assertEquals(null, slots.get(1000L));
        assertEquals(9, slots.all().size());
    }

    @Test
    void mappingViewInvalidatesEveryOverlapAndEvictsTheOldest() {
        MappingView v = new MappingView(3);
        v.add(0x1000, 0x1fff, 0x7000_1000L, Access.RO);
        v.addAnswer(0x2000, 0x2fff, 0x7000_2000L, Access.RW, 0x2010);
        v.add(0x1800, 0x27ff, 0x7000_1800L, Access.RW); // overlaps both: kept, as in the kernel
        assertTrue(v.covers(0x1000, Access.RO));
        assertFalse(v.covers(0x1000, Access.WO));
        v.add(0x9000, 0x9fff, 0x7000_9000L, Access.RW); // evicts 0x1000 (oldest)
        assertEquals(3, v.size());
        assertFalse(v.covers(0x1000, Access.RO));
        assertFalse(v.answeredAndDropped(0x2010));
        assertEquals(2, v.invalidate(0x2100, 0x2100)); // 0x2000.. and 0x1800..: everything overlapping
        assertTrue(v.answeredAndDropped(0x2010)); // the miss that entry answered: a later MISS of it is stale
        assertFalse(v.answeredAndDropped(0x2000)); // exactly that address only
        assertTrue(v.covers(0x9000, Access.RW));
        assertEquals(1, v.size());
        int m = v.findRecent(0x9abc, Access.RO, 1); // the survivor kept its own addresses through the compaction
        assertEquals(0x9000, v.first(m));
        assertEquals(0x9fff, v.last(m));
        assertEquals(0x7000_9000L, v.userAddr(m));
        assertEquals(Access.RW, v.perm(m));
    }

    @Test
    void aDuplicateFindsTheNewestRecentMappingThatAllowsItsAccess() {
        MappingView v = new MappingView(8);
        v.add(0x1000, 0x1fff, 0x5000_0000L, Access.RW);
        v.addAnswer(0x1000, 0x1fff, 0x6000_0000L, Access.RO, 0x1000); // newer, same range, read-only
        v.add(0x8000, 0x8fff, 0x6000_8000L, Access.RW);
        assertEquals(0x6000_0000L, v.userAddr(v.findRecent(0x1800, Access.RO, 3)), "the newest that allows RO");
        assertEquals(0x5000_0000L, v.userAddr(v.findRecent(0x1800, Access.WO, 3)), "RO does not allow WO");
        assertEquals(-1, v.findRecent(0x1800, Access.WO, 2), "only the newest n are looked at");
        assertEquals(-1, v.findRecent(0x2000, Access.RO, 3));
    }

    /**
     * The view against a plain list, over random adds, evictions and invalidations, with ranges near both ends of
     * the address space: the quick "outside every entry" answer of {@code findRecent} must never hide a mapping.
     */
    @Test
    void findRecentAnswersAsAScanOfEveryEntryWould() {
        java.util.Random rnd = new java.util.Random(42);
        long[] bases = {0, 0x10_0000L, -0x10_0000L}; // low, middle, and up to the last byte of 2^64
        Access[] perms = {Access.RO, Access.WO, Access.RW};
        for (int round = 0; round < 200; round++) {
            int capacity = 1 + rnd.nextInt(6);
            MappingView v = new MappingView(capacity);
            java.util.List<long[]> model = new java.util.ArrayList<>(); // {first, last, user, perm code}, oldest first
            for (int op = 0; op < 60; op++) {
                long base = bases[rnd.nextInt(bases.length)];
                long first = base + 0x1000L * rnd.nextInt(16);
                long last = first + 0x1000L * (1 + rnd.nextInt(3)) - 1;
                if (Long.compareUnsigned(last, first) < 0) {
                    last = -1L; // clipped at 2^64
                }
                if (rnd.nextInt(5) == 0) {
                    v.invalidate(first, last);
                    long f = first, l = last;
                    model.removeIf(e -> Long.compareUnsigned(e[0], l) <= 0 && Long.compareUnsigned(f, e[1]) <= 0);
                } else {
                    Access p = perms[rnd.nextInt(perms.length)];
                    long user = rnd.nextLong();
                    v.add(first, last, user, p);
                    if (model.size() == capacity) {
                        model.remove(0);
                    }
                    model.add(new long[] {first, last, user, p.code()});
                }
                long iova = bases[rnd.nextInt(bases.length)] + rnd.nextInt(20 * 0x1000);
                Access a = perms[rnd.nextInt(perms.length)];
                int n = 1 + rnd.nextInt(capacity + 1);
                long[] expected = null;
                for (int i = model.size() - 1; i >= Math.max(0, model.size() - n); i--) {
                    long[] e = model.get(i);
                    if (Long.compareUnsigned(e[0], iova) <= 0 && Long.compareUnsigned(iova, e[1]) <= 0
                            && (e[3] & a.code()) == a.code()) {
                        expected = e;
                        break;
                    }
                }
                int m = v.findRecent(iova, a, n);
                String at = "round " + round + " op " + op + " iova 0x" + Long.toHexString(iova);
                assertEquals(expected == null, m < 0, at);
                if (expected != null) {
                    assertEquals(expected[0], v.first(m), at);
                    assertEquals(expected[1], v.last(m), at);
                    assertEquals(expected[2], v.userAddr(m), at);
                }
                assertEquals(model.size(), v.size(), at);
            }
        }
    }

    @Test
    void aMissAtTheLastIovaIsRememberedLikeAnyOther() {
        MappingView v = new MappingView(4);
        v.add(0xffff_ffff_ffff_e000L, 0xffff_ffff_ffff_efffL, 0x1000, Access.RW);
        v.addAnswer(0xffff_ffff_ffff_f000L, -1L, 0x2000, Access.RW, -1L); // the miss of the address space's last byte
        assertTrue(v.covers(-1L, Access.RW));
        assertEquals(2, v.invalidate(0xffff_ffff_ffff_e000L, -1L));
        assertTrue(v.answeredAndDropped(-1L), "a mapping that answered no miss must not look like one that did");
        assertFalse(v.answeredAndDropped(0xffff_ffff_ffff_e000L));
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
        h.record(-5); // a clock that went back
        assertEquals(0, h.snapshot().p50Nanos(), "a negative latency counts as zero");
        assertEquals(0, h.snapshot().meanNanos());
        h.record(Long.MAX_VALUE);
        h.record(Long.MAX_VALUE);
        assertEquals(Long.MAX_VALUE, h.snapshot().maxNanos());
        assertTrue(h.snapshot().meanNanos() >= 0, h.snapshot().toString());
    }
}
