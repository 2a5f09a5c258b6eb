package io.vhost4j.internal.sys;

import io.vhost4j.internal.gen.vhost_iotlb_msg;
import io.vhost4j.internal.gen.vhost_msg;
import io.vhost4j.internal.gen.vhost_msg_v2;

import java.lang.foreign.MemorySegment;

import static io.vhost4j.internal.gen.VhostH.*;

/**
 * The wire format of device-IOTLB messages read from and written to a vhost fd: {@code struct vhost_msg}
 * (v1) and {@code struct vhost_msg_v2}, both 72 bytes, the IOTLB payload at offset 8. Primitive-only, so
 * the IOTLB manager's hot path allocates nothing.
 */
public final class IotlbWire {
    private IotlbWire() {}

    /** Bytes of one message, v1 or v2. */
    public static final int SIZE = (int) vhost_msg_v2.sizeof();
    private static final long PAYLOAD = vhost_msg_v2.iotlb$offset();

    static {
        if (vhost_msg.sizeof() != SIZE || vhost_msg.iotlb$offset() != PAYLOAD) {
            throw new ExceptionInInitializerError("vhost_msg and vhost_msg_v2 layouts differ");
        }
    }

    /** The message header's type: {@code VHOST_IOTLB_MSG} (1) or {@code VHOST_IOTLB_MSG_V2} (2). */
    public static int msgType(MemorySegment m) { return vhost_msg_v2.type(m); }

    /** The address space id (v2 only; 0 in v1). */
    public static int asid(MemorySegment m) { return msgType(m) == VHOST_IOTLB_MSG_V2() ? vhost_msg_v2.asid(m) : 0; }

    public static long iova(MemorySegment m) { return m.get(vhost_iotlb_msg.iova$layout(), PAYLOAD + vhost_iotlb_msg.iova$offset()); }

    public static long size(MemorySegment m) { return m.get(vhost_iotlb_msg.size$layout(), PAYLOAD + vhost_iotlb_msg.size$offset()); }

    public static long uaddr(MemorySegment m) { return m.get(vhost_iotlb_msg.uaddr$layout(), PAYLOAD + vhost_iotlb_msg.uaddr$offset()); }

    public static int perm(MemorySegment m) { return Byte.toUnsignedInt(m.get(vhost_iotlb_msg.perm$layout(), PAYLOAD + vhost_iotlb_msg.perm$offset())); }

    public static int type(MemorySegment m) { return Byte.toUnsignedInt(m.get(vhost_iotlb_msg.type$layout(), PAYLOAD + vhost_iotlb_msg.type$offset())); }

    /** Fills {@code m} (at least {@link #SIZE} bytes) with one message, zeroing the rest. */
    public static void put(MemorySegment m, boolean v2, int asid, int type, long iova, long size, long uaddr, int perm) {
        for (long off = 0; off < SIZE; off += 8) { // no slice: the IOTLB manager's hot path allocates nothing
            m.set(java.lang.foreign.ValueLayout.JAVA_LONG, off, 0L);
        }
        if (v2) {
            vhost_msg_v2.type(m, VHOST_IOTLB_MSG_V2());
            vhost_msg_v2.asid(m, asid);
        } else {
            vhost_msg.type(m, VHOST_IOTLB_MSG());
        }
        m.set(vhost_iotlb_msg.iova$layout(), PAYLOAD + vhost_iotlb_msg.iova$offset(), iova);
        m.set(vhost_iotlb_msg.size$layout(), PAYLOAD + vhost_iotlb_msg.size$offset(), size);
        m.set(vhost_iotlb_msg.uaddr$layout(), PAYLOAD + vhost_iotlb_msg.uaddr$offset(), uaddr);
        m.set(vhost_iotlb_msg.perm$layout(), PAYLOAD + vhost_iotlb_msg.perm$offset(), (byte) perm);
        m.set(vhost_iotlb_msg.type$layout(), PAYLOAD + vhost_iotlb_msg.type$offset(), (byte) type);
    }
}
