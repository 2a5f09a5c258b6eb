package io.vhost4j.testkit;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The driver side of a split virtqueue against a simulated device that follows the virtio 1.x layout. */
class SplitQueueTest {

    /** A minimal device: consumes the avail ring, writes used entries. */
    private static final class FakeDevice {
        final MemorySegment desc, avail, used;
        final int size;
        int lastAvail, usedIdx;

        FakeDevice(GuestMemory mem, SplitQueue q) {
            size = q.size();
            desc = mem.slice(q.descGuestAddr(), q.descTableBytes());
            avail = mem.slice(q.availGuestAddr(), q.availRingBytes());
            used = mem.slice(q.usedGuestAddr(), q.usedRingBytes());
        }

        /** Uses every available chain, reporting {@code len} bytes each; returns the chains' total descriptors. */
        int useAll(int len) {
            int availIdx = Short.toUnsignedInt(avail.get(JAVA_SHORT, 2));
            int descs = 0;
            while (lastAvail != availIdx) {
                int head = Short.toUnsignedInt(avail.get(JAVA_SHORT, 4 + 2L * (lastAvail % size)));
                for (int d = head; ; ) {
                    descs++;
                    int flags = desc.get(JAVA_SHORT, d * 16L + 12);
                    if ((flags & 1) == 0) break;
                    d = desc.get(JAVA_SHORT, d * 16L + 14);
                }
                used.set(JAVA_INT, 4 + 8L * (usedIdx % size), head);
                used.set(JAVA_INT, 4 + 8L * (usedIdx % size) + 4, len);
                usedIdx = (usedIdx + 1) & 0xffff;
                used.set(JAVA_SHORT, 2, (short) usedIdx);
                lastAvail = (lastAvail + 1) & 0xffff;
            }
            return descs;
        }
    }

    @Test
    void chainsGoRoundTheRingPastTheU16IndexWrap() throws Exception {
        try (GuestMemory mem = GuestMemory.allocate(0x10000, 1 << 20);
             SplitQueue q = new SplitQueue(mem, 0x10000, 8, DmaWindow.iova(0x1_0000_0000L), false)) {
            FakeDevice dev = new FakeDevice(mem, q);
            for (int i = 0; i < 70_000; i++) { // avail/used indexes wrap past 65535
                int head = q.add(new SplitQueue.Buffer(0x20000 + i % 8 * 64, 64, false),
                        new SplitQueue.Buffer(0x30000, 16, true));
                assertTrue(head >= 0);
                q.kick();
                assertEquals(2, dev.useAll(16));
                SplitQueue.Used u = q.pollUsed();
                assertEquals(head, u.head());
                assertEquals(16, u.length());
                assertNull(q.pollUsed());
            }
            assertEquals(8, q.numFree());
            // Descriptors carry IOVAs (GPA + offset), not GPAs.
            assertEquals(0x1_0000_0000L + 0x30000, mem.slice(q.descGuestAddr(), 128).get(JAVA_LONG, 16));
        }
    }

    /** Writes one used entry (head, len) in the next slot and moves used->idx by {@code chains}, as vhost does. */
    private static void writeUsed(FakeDevice dev, int head, int len, int chains) {
        dev.used.set(JAVA_INT, 4 + 8L * (dev.usedIdx % dev.size), head);
        dev.used.set(JAVA_INT, 4 + 8L * (dev.usedIdx % dev.size) + 4, len);
        dev.usedIdx = (dev.usedIdx + chains) & 0xffff;
        dev.used.set(JAVA_SHORT, 2, (short) dev.usedIdx);
    }

    @Test
    void inOrderBatchesGiveEveryChainBackInPostingOrder() throws Exception {
        try (GuestMemory mem = GuestMemory.allocate(0, 1 << 16);
             SplitQueue q = new SplitQueue(mem, 0, 8, DmaWindow.PHYSICAL, false)) {
            q.expectInOrder(true);
            FakeDevice dev = new FakeDevice(mem, q);
            int[] heads = new int[5];
            for (int i = 0; i < 5; i++) {
                heads[i] = q.add(new SplitQueue.Buffer(0x8000 + i * 64, 64, false));
            }
            q.kick();
            writeUsed(dev, heads[2], 7, 3); // one entry for a batch of three
            for (int i = 0; i < 3; i++) {
                SplitQueue.Used u = q.pollUsed();
                assertEquals(heads[i], u.head());
                assertEquals(i == 2 ? 7 : 0, u.length(), "only the batch's last chain has the entry's length");
            }
            assertNull(q.pollUsed());
            assertEquals(2, q.batchedChains());
            for (int i = 0; i < 5; i++) {
                assertEquals(i, heads[i], "with IN_ORDER descriptors are taken in ring order");
            }
            assertEquals(2, q.inFlight());
            int[] more = {q.add(new SplitQueue.Buffer(0x9000, 64, false)), q.add(new SplitQueue.Buffer(0x9040, 64, false))};
            assertEquals(5, more[0], "the freed 0..2 wait behind 3..7: still ring order");
            assertEquals(6, more[1]);
            writeUsed(dev, heads[4], 9, 1); // chain 4 for a batch of one: chain 3 is skipped, the order is broken
            IllegalStateException short_ = assertThrows(IllegalStateException.class, q::pollUsed);
            assertTrue(short_.getMessage().contains("IN_ORDER broken"), short_.getMessage());

        }
    }

    @Test
    void aFullQueueRefusesMoreAndFreesOnUse() throws Exception {
        try (GuestMemory mem = GuestMemory.allocate(0, 1 << 16);
             SplitQueue q = new SplitQueue(mem, 0, 4, DmaWindow.PHYSICAL, true)) {
            FakeDevice dev = new FakeDevice(mem, q);
            for (int i = 0; i < 4; i++) {
                assertTrue(q.add(new SplitQueue.Buffer(0x8000, 10, true)) >= 0);
            }
            assertEquals(-1, q.add(new SplitQueue.Buffer(0x8000, 10, true)));
            assertEquals(4, q.inFlight());
            q.kick();
            dev.useAll(10);
            for (int i = 0; i < 4; i++) {
                q.pollUsed();
            }
            assertEquals(4, q.numFree());
            assertEquals(0, q.inFlight());
            // With EVENT_IDX the driver publishes used_event = last used index.
            assertEquals(4, mem.slice(q.availGuestAddr(), q.availRingBytes()).get(JAVA_SHORT, 4 + 2 * 4));
        }
    }

    @Test
    void anIndirectChainTakesOneRingDescriptorAndATableOfDeviceAddresses() throws Exception {
        try (GuestMemory mem = GuestMemory.allocate(0, 1 << 16);
             SplitQueue q = new SplitQueue(mem, 0, 4, DmaWindow.iova(0x1000_0000L), false)) {
            int head = q.addIndirect(0x8000, new SplitQueue.Buffer(0x9000, 12, false),
                    new SplitQueue.Buffer(0x9100, 60, true));
            assertEquals(3, q.numFree());
            MemorySegment d = mem.slice(q.descGuestAddr(), q.descTableBytes());
            assertEquals(0x1000_8000L, d.get(JAVA_LONG, head * 16L));          // table's device address
            assertEquals(32, d.get(JAVA_INT, head * 16L + 8));                 // two entries
            assertEquals(4, d.get(JAVA_SHORT, head * 16L + 12));               // VRING_DESC_F_INDIRECT
            MemorySegment t = mem.slice(0x8000, 32);
            assertEquals(0x1000_9000L, t.get(JAVA_LONG, 0));
            assertEquals(1, t.get(JAVA_SHORT, 12));                            // NEXT
            assertEquals(1, t.get(JAVA_SHORT, 14));
            assertEquals(0x1000_9100L, t.get(JAVA_LONG, 16));
            assertEquals(2, t.get(JAVA_SHORT, 28));                            // WRITE, last
            q.kick();
            new FakeDevice(mem, q).useAll(60);
            assertEquals(head, q.pollUsed().head());
            assertEquals(4, q.numFree());
            assertThrows(IllegalArgumentException.class, () -> q.addIndirect(0x8008, new SplitQueue.Buffer(0, 1, false)));
        }
    }

    @Test
    void chainOrderAndArgumentsAreChecked() throws Exception {
        try (GuestMemory mem = GuestMemory.allocate(0, 1 << 16);
             SplitQueue q = new SplitQueue(mem, 0, 4, DmaWindow.PHYSICAL, false)) {
            assertThrows(IllegalArgumentException.class, () -> q.add(new SplitQueue.Buffer(0, 1, true),
                    new SplitQueue.Buffer(0, 1, false)));
            assertThrows(IllegalArgumentException.class, () -> new SplitQueue.Buffer(0, 0, false));
            assertThrows(IllegalArgumentException.class, () -> new SplitQueue(mem, 0, 3, DmaWindow.PHYSICAL, false));
            assertThrows(IllegalArgumentException.class, () -> new SplitQueue(mem, 8, 4, DmaWindow.PHYSICAL, false));
        }
    }

    @Test
    void guestMemoryTranslatesAndRefusesUseAfterClose() throws Exception {
        GuestMemory mem = GuestMemory.allocate(java.util.List.of(new io.vhost4j.MemoryRegion(0x100000, 0x10000, 0),
                new io.vhost4j.MemoryRegion(0x400000, 0x2000, 0)));
        long ua = mem.userAddress(0x400010);
        assertEquals(0x400010, mem.guestAddress(ua));
        assertEquals(2, mem.memoryTable().regions().size());
        assertThrows(IllegalArgumentException.class, () -> mem.slice(0x10f000, 0x2000)); // crosses the end
        MemorySegment s = mem.slice(0x100000, 16);
        s.set(JAVA_LONG, 0, 42);
        mem.close();
        mem.close();
        assertThrows(IllegalStateException.class, () -> s.get(JAVA_LONG, 0));
        assertThrows(IllegalArgumentException.class, () -> GuestMemory.allocate(0, 100));
    }
}
