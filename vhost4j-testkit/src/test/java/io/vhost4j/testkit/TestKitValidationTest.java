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
}
