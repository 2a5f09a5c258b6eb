package io.vhost4j;

import io.vhost4j.internal.sys.IotlbWire;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static io.vhost4j.internal.gen.VhostH.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IotlbMessageTest {

    @Test
    void encodesAndDecodesV1AndV2() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = a.allocate(IotlbWire.SIZE, 8);
            IotlbMessage u = IotlbMessage.update(0x10_0000_1000L, 0x2000, 0x7f00_0000_0000L, Access.WO);
            u.encode(m, true);
            assertEquals(VHOST_IOTLB_MSG_V2(), m.get(java.lang.foreign.ValueLayout.JAVA_INT, 0));
            assertEquals(0x10_0000_1000L, m.get(java.lang.foreign.ValueLayout.JAVA_LONG, 8));     // iova at 8
            assertEquals(0x2000, m.get(java.lang.foreign.ValueLayout.JAVA_LONG, 16));             // size
            assertEquals(0x7f00_0000_0000L, m.get(java.lang.foreign.ValueLayout.JAVA_LONG, 24));  // uaddr
            assertEquals(2, m.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 32));                   // perm WO
            assertEquals(VHOST_IOTLB_UPDATE(), m.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 33)); // type
            assertEquals(u, IotlbMessage.decode(m));
            IotlbMessage inv = IotlbMessage.invalidate(0x1000, 0x1000);
            inv.encode(m, false);
            assertEquals(VHOST_IOTLB_MSG(), IotlbWire.msgType(m));
            assertEquals(inv, IotlbMessage.decode(m));
            IotlbMessage.update(1, 1, 1, Access.RW).withAsid(3).encode(m, true);
            assertEquals(3, IotlbMessage.decode(m).asid());
            assertThrows(IllegalArgumentException.class, () -> IotlbMessage.update(1, 1, 1, Access.RW).withAsid(3)
                    .encode(m, false));
        }
    }

    @Test
    void rejectsBadRangesAndUnknownTypes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> IotlbMessage.invalidate(0x1000, 0));
        assertTrue(e.getMessage().contains("size 0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> IotlbMessage.update(-0x1000, 0x2000, 0, Access.RW));
        assertTrue(e.getMessage().contains("overflows 64 bits"), e.getMessage());
        IotlbMessage.update(-0x1000, 0x1000, 0, Access.RW); // ends exactly at 2^64 - 1
        assertThrows(IllegalArgumentException.class, () -> new IotlbMessage(0, IotlbType.UPDATE, 0, 1, 0, null));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = a.allocate(IotlbWire.SIZE, 8);
            IotlbWire.put(m, true, 0, 9, 0, 1, 0, 3);
            e = assertThrows(IllegalArgumentException.class, () -> IotlbMessage.decode(m));
            assertTrue(e.getMessage().contains("unknown IOTLB message type 9"), e.getMessage());
            IotlbWire.put(m, true, 0, VHOST_IOTLB_MISS(), 0, 0, 0, 3);
            m.set(java.lang.foreign.ValueLayout.JAVA_INT, 0, 7);
            e = assertThrows(IllegalArgumentException.class, () -> IotlbMessage.decode(m));
            assertTrue(e.getMessage().contains("unknown vhost message type 7"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> Access.of(0));
        assertThrows(IllegalArgumentException.class, () -> IotlbType.of(0));
        assertTrue(Access.RW.allows(Access.WO) && !Access.RO.allows(Access.WO) && !Access.WO.allows(Access.RW));
    }
    @Test
    void anySegmentOfAWholeMessageWorksHeapOrNativeAlignedOrNot() {
        IotlbMessage u = IotlbMessage.update(0x10_0000_1000L, 0x2000, 0x7f00_0000_0000L, Access.WO).withAsid(2);
        byte[] bytes = new byte[IotlbMessage.BYTES + 3];
        MemorySegment unaligned = MemorySegment.ofArray(bytes).asSlice(3);
        u.encode(unaligned, true);
        assertEquals(u, IotlbMessage.decode(unaligned));
        assertEquals(0x10, bytes[3 + 8 + 4], "iova's byte 4 at offset 8 of the message, little-endian");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment wire = a.allocate(IotlbWire.SIZE, 8);
            IotlbWire.put(wire, true, 2, VHOST_IOTLB_UPDATE(), 0x10_0000_1000L, 0x2000, 0x7f00_0000_0000L, 2);
            assertEquals(-1, wire.mismatch(unaligned), "the same bytes as the manager's own encoder");
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> IotlbMessage.decode(MemorySegment.ofArray(new byte[71])));
        assertEquals("an IOTLB message is 72 bytes, the segment 71", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> u.encode(MemorySegment.ofArray(new byte[71]), true));
        byte[] untouched = new byte[IotlbMessage.BYTES];
        e = assertThrows(IllegalArgumentException.class, () -> u.encode(MemorySegment.ofArray(untouched).asReadOnly(), true));
        assertTrue(e.getMessage().contains("read-only"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> IotlbMessage.decode(MemorySegment.ofArray(new byte[72])));
        assertTrue(e.getMessage().contains("unknown vhost message type 0"), e.getMessage());
    }

    @Test
    void anAsidIsNeverNegative() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> IotlbMessage.invalidate(0, 0x1000).withAsid(-1));
        assertEquals("asid -1 is negative", e.getMessage());
        assertEquals(Integer.MAX_VALUE, IotlbMessage.invalidate(0, 0x1000).withAsid(Integer.MAX_VALUE).asid());
    }
}
