package io.vhost4j.testkit;

import io.vhost4j.Access;
import io.vhost4j.iotlb.Translation;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The guest-like vIOMMU model and its IOVA allocator, without a kernel. */
class VirtualIommuTest {
    private static final long PAGE = 4096, BASE = 0x1_0000_0000L;

    @Test
    void theAllocatorGoesTopDownWrapsAndFindsFreedRanges() {
        IovaAllocator a = new IovaAllocator(BASE, 8);
        assertEquals(BASE + 7 * PAGE, a.allocate(1));
        assertEquals(BASE + 5 * PAGE, a.allocate(2));
        assertEquals(BASE + 4 * PAGE, a.allocate(1));
        a.free(BASE + 7 * PAGE, 1);
        assertEquals(BASE, a.allocate(4)); // below the last one first
        assertEquals(BASE + 7 * PAGE, a.allocate(1)); // then round from the top
        assertEquals(-1, a.allocate(1));
        assertEquals(8, a.pagesInUse());
        assertThrows(IllegalArgumentException.class, () -> a.free(BASE + PAGE + 1, 1));
        a.free(BASE + 5 * PAGE, 2);
        assertThrows(IllegalArgumentException.class, () -> a.free(BASE + 5 * PAGE, 1)); // twice
        assertEquals(BASE + 5 * PAGE, a.allocate(2));
    }

    @Test
    void strictUnmapsRemoveTheEntryBeforeInvalidatingIt() throws Exception {
        try (VirtualIommu v = VirtualIommu.strict(BASE, 16, 8)) {
            List<long[]> sent = new ArrayList<>();
            Translation t = new Translation();
            v.invalidateWith((iova, size) -> {
                assertFalse(v.translate(iova, Access.RO, t), "still translated when invalidated");
                sent.add(new long[] {iova, size});
            });
            long a = v.map(0x5000_0123L, 100, Access.RO);
            assertEquals(BASE + 7 * PAGE + 0x123, a);
            assertTrue(v.translate(a + 5, Access.RO, t));
            assertEquals(BASE + 7 * PAGE, t.iova());
            assertEquals(0x5000_0000L, t.guestPhysAddr());
            assertEquals(Access.RO, t.perm());
            long b = v.map(0x6000_0F00L, 0x200, Access.WO); // crosses a page: two entries
            assertEquals(BASE + 5 * PAGE + 0xF00, b);
            assertTrue(v.translate(BASE + 6 * PAGE, Access.WO, t));
            assertEquals(0x6000_1000L, t.guestPhysAddr());
            v.unmap(a, 100);
            assertEquals(1, sent.size());
            assertEquals(BASE + 7 * PAGE, sent.get(0)[0]);
            assertEquals(PAGE, sent.get(0)[1]);
            assertEquals(BASE + 7 * PAGE, v.map(0x7000_0000L, 1, Access.RW) & -PAGE); // strict: reused at once
            assertEquals(new VirtualIommu.Stats(3, 1, 1, 3), v.stats());
        }
    }

    @Test
    void lazyUnmapsWaitForOneFlushOfTheStreamingAreaAndReuseNothingBefore() throws Exception {
        try (VirtualIommu v = VirtualIommu.lazy(BASE, 64, 32, 4, Duration.ofHours(1))) {
            List<long[]> sent = new ArrayList<>();
            v.invalidateWith((iova, size) -> sent.add(new long[] {iova, size}));
            long[] a = new long[4];
            for (int i = 0; i < 4; i++) {
                a[i] = v.map(0x5000_0000L + i * PAGE, 64, Access.RO);
            }
            for (int i = 0; i < 3; i++) {
                v.unmap(a[i], 64);
            }
            assertTrue(sent.isEmpty());
            assertFalse(v.translate(a[0], Access.RO, new Translation())); // gone from the table at once
            long next = v.map(0x5000_8000L, 64, Access.RO);
            for (long old : a) {
                assertTrue(next != old, "reused before the flush");
            }
            v.unmap(a[3], 64); // the fourth queued page: flush
            assertEquals(1, sent.size());
            assertEquals(BASE, sent.get(0)[0]);
            assertEquals(32 * PAGE, sent.get(0)[1]);
            v.flush(); // nothing queued: nothing sent
            assertEquals(1, sent.size());
        }
    }

    @Test
    void fixedMappingsStayOutOfTheStreamingArea() {
        try (VirtualIommu v = VirtualIommu.strict(BASE, 16, 8)) {
            assertThrows(IllegalArgumentException.class, () -> v.mapAt(BASE, 0x1000, PAGE, Access.RW));
            assertThrows(IllegalArgumentException.class, () -> v.mapAt(BASE + 8 * PAGE + 1, 0x1000, PAGE, Access.RW));
            v.mapAt(BASE + 8 * PAGE, 0x1000, 2 * PAGE, Access.RW);
            Translation t = new Translation();
            assertTrue(v.translate(BASE + 9 * PAGE + 8, Access.WO, t));
            assertEquals(0x2000, t.guestPhysAddr());
            assertFalse(v.translate(BASE + 16 * PAGE, Access.RO, t));
            assertThrows(IllegalArgumentException.class, () -> v.unmap(BASE + 8 * PAGE, 1));
        }
    }

    @Test
    void aClosedVirtualIommuMapsNothingAndSaysSo() throws Exception {
        VirtualIommu v = VirtualIommu.lazy(BASE, 16, 8, 64, Duration.ofHours(1));
        long iova = v.map(0x20000, 64, Access.RO);
        v.unmap(iova, 64); // queued for the lazy flush
        v.close();
        for (org.junit.jupiter.api.function.Executable call : List.<org.junit.jupiter.api.function.Executable>of(
                () -> v.map(0x20000, 64, Access.RO), () -> v.mapAt(BASE + 8 * PAGE, 0x30000, 64, Access.RW),
                () -> v.unmap(iova, 64), v::flush)) {
            assertEquals("the vIOMMU is closed", assertThrows(IllegalStateException.class, call).getMessage());
        }
        assertThrows(IllegalStateException.class, () -> v.translate(BASE + 8 * PAGE, Access.RO, new Translation()));
        v.close(); // again: nothing
    }
}
