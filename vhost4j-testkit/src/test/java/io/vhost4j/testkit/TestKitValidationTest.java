package io.vhost4j.testkit;

import io.vhost4j.Access;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The test kit's values refuse what would only fail later, or quietly compute nonsense, with a clear message. */
class TestKitValidationTest {

    private static void rejected(String expected, org.junit.jupiter.api.function.Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    @Test
    void queueSizesAreCheckedWhereverTheyAreTaken() {
        for (int bad : new int[] {0, 3, -1, 65536}) {
            rejected("queue size " + bad, () -> SplitQueue.footprint(bad));
        }
        assertEquals(4096, SplitQueue.footprint(1));
        assertEquals("memory", assertThrows(NullPointerException.class,
                () -> new SplitQueue(null, 0, 256, DmaWindow.PHYSICAL, false)).getMessage());
    }

    @Test
    void translatorWindowsDoNotWrapAndHaveAPermission() {
        rejected("wraps at 2^64", () -> new OffsetTranslator(-4096, 0, 8192, 4096, Access.RW)); // IOVA window wraps
        rejected("wraps at 2^64", () -> new OffsetTranslator(0, -4096, 8192, 4096, Access.RW)); // GPA window wraps
        rejected("is empty", () -> new OffsetTranslator(0, 0, 0, 4096, Access.RW));
        new OffsetTranslator(-8192, 8192, 8192, 4096, Access.RW); // IOVAs [0, 8192): ends exactly, no wrap
        assertEquals("perm", assertThrows(NullPointerException.class,
                () -> new OffsetTranslator(0, 0, 4096, 4096, null)).getMessage());
        assertEquals("kind", assertThrows(NullPointerException.class, () -> new DmaWindow(null, 0)).getMessage());
        rejected("needs the IOVA kind", () -> new DmaWindow(io.vhost4j.AddressKind.USER, 4096)); // was ignored
        assertEquals("flushAfter", assertThrows(NullPointerException.class,
                () -> VirtualIommu.lazy(0x100_0000L, 16, 16, 8, null)).getMessage());
    }

    @Test
    void vnetHeadersAreTenOrTwelveBytesInASegmentThatHoldsThem() {
        rejected("vnet header size 11", () -> VnetHeader.read(MemorySegment.ofArray(new byte[12]), 11));
        rejected("a 12-byte vnet header in a segment of 4", () -> VnetHeader.read(MemorySegment.ofArray(new byte[4]), 12));
        rejected("vnet header size 8", () -> VnetHeader.NONE.write(MemorySegment.ofArray(new byte[12]), 8));
        MemorySegment m = MemorySegment.ofArray(new byte[12]);
        VnetHeader h = VnetHeader.tcp4(54, 1448);
        h.write(m, 12);
        assertEquals(h, VnetHeader.read(m, 12));
    }

    @Test
    void framesAndGuestMemoryRefuseNonsense() {
        rejected("sequence number -1", () -> Frames.sizeOf(-1));
        rejected("no region", () -> GuestMemory.allocate(List.of()));
        assertTrue(Frames.sizeOf(0) >= 60);
    }

    @Test
    void iovaSpacesAndDmaRangesDoNotWrapAndAnAllocationIsFreedWhole() {
        rejected("wraps past 2^64", () -> new IovaAllocator(-4096, 2));
        new IovaAllocator(-4096, 1); // the last page of the space: no wrap
        rejected("wraps past 2^64", () -> new DmaRange(-4096, 0, 8192));
        rejected("wraps past 2^64", () -> new DmaRange(0, -4096, 8192));
        assertEquals("dma", assertThrows(NullPointerException.class, () -> DmaRange.of(null, 0, 1)).getMessage());
        IovaAllocator a = new IovaAllocator(1 << 20, 8);
        long two = a.allocate(2);
        assertTrue(a.isAllocated(two, 2));
        assertTrue(!a.isAllocated(two, 1) && !a.isAllocated(two + 4096, 1), "a part is not an allocation");
        rejected("was not allocated as one allocation", () -> a.free(two, 1));
        rejected("was not allocated as one allocation", () -> a.free(two + 4096, 1));
        rejected("was not allocated as one allocation", () -> a.free(two, 0));
        assertEquals(2, a.pagesInUse(), "refused frees change nothing");
        a.free(two, 2);
        assertEquals(0, a.pagesInUse());
    }

    /**
     * An unmap of what is not mapped (twice, another size, never) would take pages out of the table and the device's
     * IOTLB that another buffer may hold: refused before anything changes, in both modes.
     */
    @Test
    void aVirtualIommuRefusesAnUnmapOfWhatItDoesNotHaveMappedAndAMapWithoutAccess() throws Exception {
        for (boolean strict : new boolean[] {true, false}) {
            try (VirtualIommu v = strict ? VirtualIommu.strict(1 << 20, 16, 8)
                    : VirtualIommu.lazy(1 << 20, 16, 8, 64, java.time.Duration.ofHours(1))) {
                assertEquals("access", assertThrows(NullPointerException.class, () -> v.map(0x10000, 64, null))
                        .getMessage());
                long first = v.map(0x10000, 64, Access.RO);
                v.unmap(first, 64);
                rejected("is not a live mapping", () -> v.unmap(first, 64)); // twice
                long second = v.map(0x20000, 64, Access.RW); // strict: the same IOVA again
                io.vhost4j.iotlb.Translation t = new io.vhost4j.iotlb.Translation();
                rejected("is not a live mapping", () -> v.unmap(second, 5000)); // two pages: it has one
                rejected("is not a live mapping", () -> v.unmap(second - 4096 * 2, 64)); // never mapped
                assertTrue(v.translate(second, Access.RW, t), "the second buffer keeps its mapping");
                assertEquals(0x20000, t.guestPhysAddr());
                assertEquals(2, v.stats().maps());
                assertEquals(1, v.stats().unmaps(), "refused unmaps are not counted");
                v.unmap(second, 64);
            }
        }
    }

    @Test
    void closedGuestMemoryGivesNoAddresses() throws Exception {
        GuestMemory g = GuestMemory.allocate(0, 1 << 16);
        g.close();
        for (org.junit.jupiter.api.function.Executable call : List.<org.junit.jupiter.api.function.Executable>of(
                () -> g.slice(0, 1), () -> g.userAddress(0), () -> g.guestAddress(0), g::memoryTable)) {
            assertEquals("guest memory is closed", assertThrows(IllegalStateException.class, call).getMessage());
        }
    }

    @Test
    void aDriverConfigAndAClosedQueueRefuseWhatTheyCannotServe() throws Exception {
        rejected("queue size 0", () -> new NetDriver.Config(0, false, false, 2048, DmaWindow.PHYSICAL, false, false));
        // With MRG_RXBUF a frame spans buffers, but only as many as the queue holds: a full-size frame never arrived.
        rejected("needs 24 RX buffers of 64 bytes; the queue holds 8",
                () -> new NetDriver.Config(8, true, false, 64, DmaWindow.PHYSICAL, false, false));
        assertEquals(32, new NetDriver.Config(32, true, false, 64, DmaWindow.PHYSICAL, false, false).queueSize());
        assertEquals("dma", assertThrows(NullPointerException.class,
                () -> NetDriver.Config.defaults().withDma(null)).getMessage());
        try (GuestMemory g = GuestMemory.allocate(0, 1 << 20)) {
            SplitQueue q = new SplitQueue(g, 0, 4, DmaWindow.PHYSICAL, false);
            assertEquals("a null buffer in the chain", assertThrows(NullPointerException.class,
                    () -> q.add(new SplitQueue.Buffer(0x10000, 64, false), null)).getMessage());
            assertEquals(4, q.numFree(), "a refused chain takes no descriptor");
            q.close();
            for (org.junit.jupiter.api.function.Executable call : List.<org.junit.jupiter.api.function.Executable>of(
                    () -> q.add(new SplitQueue.Buffer(0x10000, 64, false)), q::kick, q::forceKick, q::pollUsed,
                    () -> q.addIndirect(0x20000, new SplitQueue.Buffer(0x10000, 64, false)),
                    () -> q.expectInOrder(true))) {
                assertEquals("the queue is closed", assertThrows(IllegalStateException.class, call).getMessage());
            }
        }
    }

    @Test
    void vsockAddressesAndTsoHeadersAreWhatTheKernelTakes() {
        rejected("vsock address 4294967299:1234", () -> HostVsock.connect(0x1_0000_0003L, 1234, false)); // not CID 3
        rejected("vsock address -1:1234", () -> HostVsock.connect(-1, 1234, false));
        rejected("vsock address 4294967295:1234", () -> HostVsock.connect(0xffff_ffffL, 1234, false));
        rejected("vsock address 3:4294967295", () -> HostVsock.connect(3, -1, false));
        rejected("MSS 0", () -> VnetHeader.tcp4(14, 0));
        rejected("IPv4 header at -1", () -> VnetHeader.tcp4(-1, 1448));
        assertEquals("tap", assertThrows(NullPointerException.class, () -> PacketSocket.open((io.vhost4j.Tap) null,
                Frames.ETHER_TYPE)).getMessage());
    }
}
