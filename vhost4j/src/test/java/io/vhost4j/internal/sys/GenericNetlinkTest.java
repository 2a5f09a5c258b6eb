package io.vhost4j.internal.sys;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** Netlink attribute decoding: lengths, 4-byte padding, the nested flag, truncation. */
class GenericNetlinkTest {

    private static ByteBuffer attr(ByteBuffer b, int type, byte... payload) {
        b.putShort((short) (4 + payload.length)).putShort((short) type).put(payload);
        while (b.position() % 4 != 0) {
            b.put((byte) 0);
        }
        return b;
    }

    /** The bytes in native memory, as the socket buffer holds them (aligned for the generated layouts). */
    private static MemorySegment nativeCopy(ByteBuffer b, int len) {
        MemorySegment s = Arena.ofAuto().allocate(len, 8);
        MemorySegment.copy(MemorySegment.ofArray(b.array()), 0, s, 0, len);
        return s;
    }

    @Test
    void attributesAreReadWithTheirPaddingAndTypeFlagsMasked() {
        ByteBuffer b = ByteBuffer.allocate(64).order(ByteOrder.nativeOrder());
        attr(b, 4, (byte) 'n', (byte) '0', (byte) 0);                // string "n0"
        attr(b, 5, (byte) 1, (byte) 0, (byte) 0, (byte) 0);         // u32 1
        attr(b, 0x8000 | 6, (byte) 7);                              // NLA_F_NESTED set
        attr(b, 8, (byte) 0x40, (byte) 0);                          // u16 64
        int len = b.position();
        Map<Integer, byte[]> m = GenericNetlink.attributes(nativeCopy(b, len));
        GenericNetlink.Reply r = new GenericNetlink.Reply(m);
        assertEquals("n0", r.string(4));
        assertEquals(1, r.number(5, -1));
        assertArrayEquals(new byte[] {7}, m.get(6));
        assertEquals(64, r.number(8, -1));
        assertEquals(-1, r.number(9, -1));
        assertNull(r.string(9));
    }

    @Test
    void aTruncatedAttributeEndsTheRun() {
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.nativeOrder());
        attr(b, 1, (byte) 1, (byte) 2, (byte) 3, (byte) 4);
        b.putShort((short) 40).putShort((short) 2);                 // claims 40 bytes, has 4
        Map<Integer, byte[]> m = GenericNetlink.attributes(nativeCopy(b, 12));
        assertEquals(1, m.size());
        assertArrayEquals(new byte[] {1, 2, 3, 4}, m.get(1));
    }

    @Test
    void stringAttributesAreNulTerminated() {
        assertArrayEquals(new byte[] {'v', 'd', 'p', 'a', 0}, GenericNetlink.Attr.string(2, "vdpa").payload());
    }
    @Test
    void aFamilyTheKernelDoesNotHaveIsUnavailableWithAHintNotAPlainFailure() {
        io.vhost4j.VhostException e = org.junit.jupiter.api.Assertions.assertThrows(
                io.vhost4j.DeviceUnavailableException.class, () -> GenericNetlink.open("vhost4j-no-such"));
        assertEquals(io.vhost4j.Errno.ENOENT, e.errno());
        assertEquals("CTRL_CMD_GETFAMILY vhost4j-no-such", e.operation());
        org.junit.jupiter.api.Assertions.assertTrue(
                e.hint().contains("no generic netlink family \"vhost4j-no-such\""), e.hint());
        org.junit.jupiter.api.Assertions.assertTrue(Errors.hint(io.vhost4j.Errno.ENOENT, "CTRL_CMD_GETFAMILY vdpa",
                "genetlink vdpa").contains("modprobe vdpa"));
    }
}
