package io.vhost4j.testkit;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * The test kit's numbered frames, each checkable byte for byte: Ethernet frames of the private EtherType
 * {@value #ETHER_TYPE} (IEEE local experimental) carrying their sequence number and a pattern derived from it,
 * and IPv4/UDP frames carrying the same (one flow per sequence number, for tests that need the kernel to spread
 * frames over queues by flow hash). Sizes cycle through 60..1514 bytes.
 */
public final class Frames {
    private Frames() {}

    /** EtherType of the numbered frames. */
    public static final int ETHER_TYPE = 0x88B5;
    /** EtherType of IPv4. */
    public static final int IPV4 = 0x0800;
    private static final ValueLayout.OfInt BE32 = JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfShort BE16 = JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final byte[] MACS = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
    /** Where the sequence number sits: after the Ethernet header, or after the IPv4 and UDP headers. */
    private static final int SEQ = 14, UDP_SEQ = 14 + 20 + 8;

    /** The size of frame {@code seq}: 60..1514 bytes. */
    public static int sizeOf(int seq) {
        if (seq < 0) {
            throw new IllegalArgumentException("sequence number " + seq + " is negative");
        }
        return 60 + (seq * 379) % (NetDriver.MAX_FRAME - 60 + 1);
    }

    private static int seqOffset(boolean udp) {
        return udp ? UDP_SEQ : SEQ;
    }

    /** Writes frame {@code seq} (of the private EtherType, or IPv4/UDP) into {@code f}, which is its size. */
    public static MemorySegment fill(MemorySegment f, int seq, boolean udp) {
        int size = (int) f.byteSize();
        MemorySegment.copy(MemorySegment.ofArray(MACS), 0, f, 0, 12);
        f.set(BE16, 12, (short) (udp ? IPV4 : ETHER_TYPE));
        if (udp) {
            f.set(JAVA_BYTE, 14, (byte) 0x45);                     // IPv4, 20-byte header
            f.set(JAVA_BYTE, 15, (byte) 0);
            f.set(BE16, 16, (short) (size - 14));                   // total length
            f.set(BE32, 18, 0);                                     // id, flags, fragment offset
            f.set(JAVA_BYTE, 22, (byte) 64);                        // TTL
            f.set(JAVA_BYTE, 23, (byte) 17);                        // UDP
            f.set(BE16, 24, (short) 0);                             // header checksum (nobody checks it)
            f.set(BE32, 26, 0x0a00_0001);                           // 10.0.0.1
            f.set(BE32, 30, 0x0a00_0002);                           // 10.0.0.2
            f.set(BE16, 34, (short) (10000 + (seq & 0x3fff)));     // source port: one flow per frame
            f.set(BE16, 36, (short) 7);
            f.set(BE16, 38, (short) (size - 34));
            f.set(BE16, 40, (short) 0);
        }
        int at = seqOffset(udp);
        f.set(BE32, at, seq);
        for (int i = at + 4; i < size; i++) {
            f.set(JAVA_BYTE, i, (byte) (seq * 31 + i * 7));
        }
        return f;
    }

    /** Bytes of Ethernet + IPv4 + TCP headers in a {@link #tcp4} frame. */
    public static final int TCP4_HEADERS = 14 + 20 + 20;
    /** The TCP port {@link #tcp4} frames go to. */
    public static final int TCP_PORT = 9;

    /** Payload byte {@code i} of TCP frame {@code seq}. */
    public static byte tcpPayloadByte(int seq, int i) {
        return (byte) (i * 13 + seq * 5 + (i >> 10));
    }

    /**
     * A TCP/IPv4 frame with {@code payload} bytes of pattern ({@link #tcpPayloadByte}) and sequence number
     * {@code tcpSeq}, into {@code f} (its size: {@link #TCP4_HEADERS} + payload): the IPv4 checksum done, the TCP
     * checksum field holding the pseudo-header sum, as a guest's stack leaves it for a device that completes it.
     */
    public static MemorySegment tcp4(MemorySegment f, int seq, int tcpSeq) {
        int size = (int) f.byteSize(), payload = size - TCP4_HEADERS;
        if (payload < 0 || size - 14 > 0xffff) {
            throw new IllegalArgumentException("a TCP/IPv4 frame of " + size + " bytes");
        }
        MemorySegment.copy(MemorySegment.ofArray(MACS), 0, f, 0, 12);
        f.set(BE16, 12, (short) IPV4);
        f.set(JAVA_BYTE, 14, (byte) 0x45);
        f.set(JAVA_BYTE, 15, (byte) 0);
        f.set(BE16, 16, (short) (size - 14));
        f.set(BE16, 18, (short) seq);                              // id
        f.set(BE16, 20, (short) 0x4000);                           // DF
        f.set(JAVA_BYTE, 22, (byte) 64);
        f.set(JAVA_BYTE, 23, (byte) 6);                            // TCP
        f.set(BE16, 24, (short) 0);
        f.set(BE32, 26, 0x0a00_0001);
        f.set(BE32, 30, 0x0a00_0002);
        f.set(BE16, 24, (short) ~ones(f, 14, 20));                  // IPv4 header checksum
        f.set(BE16, 34, (short) 40000);
        f.set(BE16, 36, (short) TCP_PORT);
        f.set(BE32, 38, tcpSeq);
        f.set(BE32, 42, 0);
        f.set(JAVA_BYTE, 46, (byte) 0x50);                         // data offset 5
        f.set(JAVA_BYTE, 47, (byte) 0x18);                         // PSH, ACK
        f.set(BE16, 48, (short) 0xffff);
        f.set(BE16, 52, (short) 0);
        long pseudo = 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 6 + (size - 34);
        f.set(BE16, 50, (short) fold(pseudo));                     // the pseudo-header sum, for CHECKSUM_PARTIAL
        for (int i = 0; i < payload; i++) {
            f.set(JAVA_BYTE, TCP4_HEADERS + i, tcpPayloadByte(seq, i));
        }
        return f;
    }

    private static long ones(MemorySegment m, int off, int len) {
        long sum = 0;
        for (int i = 0; i < len; i += 2) {
            sum += Short.toUnsignedInt(m.get(BE16, off + i));
        }
        return fold(sum);
    }

    private static int fold(long sum) {
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        return (int) sum;
    }

    /** The first byte where {@code got} differs from frame {@code seq} of {@code size} bytes, or -1 (no allocation). */
    private static long mismatch(MemorySegment got, int seq, int size, boolean udp) {
        for (int i = 0; i < 12; i++) {
            if (got.get(JAVA_BYTE, i) != MACS[i]) {
                return i;
            }
        }
        int at = seqOffset(udp);
        if (udp && (got.get(BE16, 16) != (short) (size - 14) || got.get(BE16, 34) != (short) (10000 + (seq & 0x3fff))
                || got.get(BE16, 38) != (short) (size - 34))) {
            return 16;
        }
        for (int i = at + 4; i < size; i++) {
            if (got.get(JAVA_BYTE, i) != (byte) (seq * 31 + i * 7)) {
                return i;
            }
        }
        return -1;
    }

    /**
     * The sequence number of the numbered frame in {@code got} (its first {@code n} bytes), checked byte for byte
     * against what {@link #fill} writes for it; -1 if it is not one of these frames at all (another EtherType, or
     * UDP to another port: the host's own traffic).
     *
     * @throws NetLoopback.FrameCheckException if it is one of them, but damaged
     */
    public static int check(MemorySegment got, int n, boolean udp, String where) throws NetLoopback.FrameCheckException {
        if (n < 14 || Short.toUnsignedInt(got.get(BE16, 12)) != (udp ? IPV4 : ETHER_TYPE)
                || (udp && (n < UDP_SEQ + 4 || got.get(JAVA_BYTE, 23) != 17 || got.get(BE16, 36) != 7))) {
            return -1;
        }
        if (n < seqOffset(udp) + 4) {
            throw new NetLoopback.FrameCheckException("a " + n + "-byte frame on the " + where);
        }
        int seq = got.get(BE32, seqOffset(udp));
        int size = sizeOf(seq);
        if (n != size) {
            throw new NetLoopback.FrameCheckException("frame " + seq + " on the " + where + " has " + n
                    + " bytes, sent " + size);
        }
        long at = mismatch(got, seq, size, udp);
        if (at >= 0) {
            throw new NetLoopback.FrameCheckException("frame " + seq + " on the " + where + " differs at byte " + at);
        }
        return seq;
    }
}
