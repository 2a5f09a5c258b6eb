package io.vhost4j;

import io.vhost4j.internal.sys.IotlbWire;

import java.lang.foreign.MemorySegment;

import static io.vhost4j.internal.gen.VhostH.*;

/**
 * One device-IOTLB message ({@code struct vhost_iotlb_msg} inside {@code vhost_msg} / {@code vhost_msg_v2}).
 *
 * <p>A MISS from the kernel carries only {@code iova} (the first missing byte) and {@code perm}; UPDATE
 * and INVALIDATE are validated here: size greater than 0 and {@code iova + size} within 64 bits.
 *
 * @param asid  address space id (v2 messages; only meaningful with backend feature IOTLB_ASID)
 * @param type  the message type
 * @param iova  first I/O virtual address
 * @param size  length in bytes (0 in a MISS)
 * @param uaddr user address the range maps to (UPDATE)
 * @param perm  access permission ({@code null} where the message has none, e.g. INVALIDATE)
 */
public record IotlbMessage(int asid, IotlbType type, long iova, long size, long uaddr, Access perm) {

    /** Bytes of one message on the wire, v1 or v2. */
    public static final int BYTES = 72;

    static {
        if (BYTES != IotlbWire.SIZE) {
            throw new ExceptionInInitializerError("vhost_msg_v2 is " + IotlbWire.SIZE + " bytes");
        }
    }

    /** Validates the asid (0 or more), ranges of UPDATE and INVALIDATE and the permission of UPDATE and MISS. */
    public IotlbMessage {
        if (type == null) {
            throw new NullPointerException("type");
        }
        if (asid < 0) {
            throw new IllegalArgumentException("asid " + asid + " is negative");
        }
        if (type == IotlbType.UPDATE || type == IotlbType.INVALIDATE) {
            checkRange(iova, size);
        }
        if ((type == IotlbType.UPDATE || type == IotlbType.MISS) && perm == null) {
            throw new IllegalArgumentException(type + " needs a permission");
        }
    }

    /** Rejects an empty range and one whose end overflows 64 bits. */
    public static void checkRange(long iova, long size) {
        if (size == 0) {
            throw new IllegalArgumentException("IOTLB range of size 0 at iova 0x" + Long.toHexString(iova));
        }
        if (Long.compareUnsigned(iova + (size - 1), iova) < 0) {
            throw new IllegalArgumentException("IOTLB range 0x" + Long.toHexString(iova) + " + 0x"
                    + Long.toHexString(size) + " overflows 64 bits");
        }
    }

    /** UPDATE: map {@code [iova, iova+size)} to user address {@code uaddr} with {@code perm}. */
    public static IotlbMessage update(long iova, long size, long uaddr, Access perm) {
        return new IotlbMessage(0, IotlbType.UPDATE, iova, size, uaddr, perm);
    }

    /** INVALIDATE: drop every mapping that overlaps {@code [iova, iova+size)}. */
    public static IotlbMessage invalidate(long iova, long size) {
        return new IotlbMessage(0, IotlbType.INVALIDATE, iova, size, 0, null);
    }

    /** This message in address space {@code asid}. */
    public IotlbMessage withAsid(int asid) {
        return new IotlbMessage(asid, type, iova, size, uaddr, perm);
    }

    /**
     * Decodes a message read from a vhost fd: the first {@value #BYTES} bytes of {@code segment}, which may be any
     * segment (heap or native, any alignment).
     *
     * @throws IllegalArgumentException for a segment shorter than a message, an unknown message, IOTLB type or
     *         permission
     */
    public static IotlbMessage decode(MemorySegment segment) {
        MemorySegment m = wire(segment);
        MemorySegment.copy(segment, 0, m, 0, BYTES);
        int msgType = IotlbWire.msgType(m);
        if (msgType != VHOST_IOTLB_MSG() && msgType != VHOST_IOTLB_MSG_V2()) {
            throw new IllegalArgumentException("unknown vhost message type " + msgType);
        }
        IotlbType type = IotlbType.of(IotlbWire.type(m));
        int perm = IotlbWire.perm(m);
        return new IotlbMessage(IotlbWire.asid(m), type, IotlbWire.iova(m), IotlbWire.size(m), IotlbWire.uaddr(m),
                perm == 0 ? null : Access.of(perm));
    }

    /**
     * Encodes this message as v2 ({@code vhost_msg_v2}) or v1 ({@code vhost_msg}) into the first {@value #BYTES}
     * bytes of {@code segment}, which may be any writable segment (heap or native, any alignment).
     *
     * @throws IllegalArgumentException for a segment shorter than a message or read-only, or a non-zero asid in v1
     */
    public void encode(MemorySegment segment, boolean v2) {
        if (!v2 && asid != 0) {
            throw new IllegalArgumentException("asid " + asid + " needs a v2 message");
        }
        if (segment.isReadOnly()) {
            throw new IllegalArgumentException("cannot encode into a read-only segment");
        }
        MemorySegment m = wire(segment);
        IotlbWire.put(m, v2, asid, type.code(), iova, size, uaddr, perm == null ? 0 : perm.code());
        MemorySegment.copy(m, 0, segment, 0, BYTES);
    }

    /** An aligned message buffer, after checking that {@code segment} holds a whole message. */
    private static MemorySegment wire(MemorySegment segment) {
        if (segment.byteSize() < BYTES) {
            throw new IllegalArgumentException("an IOTLB message is " + BYTES + " bytes, the segment "
                    + segment.byteSize());
        }
        return MemorySegment.ofArray(new long[BYTES / Long.BYTES]);
    }

    @Override
    public String toString() {
        return "IotlbMessage[" + type + (asid != 0 ? " asid=" + asid : "") + " iova=0x" + Long.toHexString(iova)
                + (size != 0 ? " size=0x" + Long.toHexString(size) : "")
                + (uaddr != 0 ? " uaddr=0x" + Long.toHexString(uaddr) : "") + (perm != null ? " " + perm : "") + "]";
    }
}
