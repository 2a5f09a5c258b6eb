package io.vhost4j.testkit;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.vhost4j.internal.gen.VhostH.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * The virtio-net header before every frame ({@code struct virtio_net_hdr_v1}, little-endian): what the driver
 * asks of the device for a frame it sends (a checksum to complete, segmentation) and what the device tells about a
 * frame it delivers. {@link #NONE} for plain frames.
 *
 * @param flags      {@code VIRTIO_NET_HDR_F_*}: NEEDS_CSUM 1, DATA_VALID 2
 * @param gsoType    {@code VIRTIO_NET_HDR_GSO_*}: NONE 0, TCPV4 1, UDP 3, TCPV6 4 (| ECN 0x80)
 * @param hdrLen     bytes of Ethernet + IP + TCP/UDP headers (a hint)
 * @param gsoSize    bytes of payload per segment (MSS)
 * @param csumStart  where checksumming starts
 * @param csumOffset where, from {@code csumStart}, the checksum goes
 * @param numBuffers RX with MRG_RXBUF: buffers the frame spans (0 on TX)
 */
public record VnetHeader(int flags, int gsoType, int hdrLen, int gsoSize, int csumStart, int csumOffset,
                         int numBuffers) {
    /** No offload: a whole frame with its checksums done. */
    public static final VnetHeader NONE = new VnetHeader(0, 0, 0, 0, 0, 0, 0);
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    /** Checks the fields' ranges. */
    public VnetHeader {
        for (int v : new int[] {hdrLen, gsoSize, csumStart, csumOffset, numBuffers}) {
            if (v < 0 || v > 0xffff) {
                throw new IllegalArgumentException("vnet header field " + v + " out of u16 range");
            }
        }
        if (flags < 0 || flags > 0xff || gsoType < 0 || gsoType > 0xff) {
            throw new IllegalArgumentException("vnet header flags " + flags + " / gso type " + gsoType);
        }
    }

    /**
     * A TCP/IPv4 frame to segment into {@code mss}-byte segments, its TCP checksum to complete: what a guest's stack
     * hands a device with TSO4 ({@code l3Offset}: where the IPv4 header starts, 14 after Ethernet).
     */
    public static VnetHeader tcp4(int l3Offset, int mss) {
        if (l3Offset < 0 || mss <= 0) { // the kernel refuses a GSO header with gso_size 0
            throw new IllegalArgumentException("TSO4 header with the IPv4 header at " + l3Offset + " and MSS " + mss);
        }
        int tcp = l3Offset + 20;
        return new VnetHeader(VIRTIO_NET_HDR_F_NEEDS_CSUM(), VIRTIO_NET_HDR_GSO_TCPV4(), tcp + 20, mss, tcp, 16, 0);
    }

    /** Whether this asks for segmentation. */
    public boolean isGso() {
        return (gsoType & ~VIRTIO_NET_HDR_GSO_ECN()) != VIRTIO_NET_HDR_GSO_NONE();
    }

    private static void checkSize(MemorySegment m, int size) {
        if (size != 10 && size != 12) {
            throw new IllegalArgumentException("vnet header size " + size + ": 10, or 12 with num_buffers");
        }
        if (m.byteSize() < size) {
            throw new IllegalArgumentException("a " + size + "-byte vnet header in a segment of " + m.byteSize());
        }
    }

    /** Reads a header of {@code size} bytes (10, or 12 with {@code num_buffers}) from {@code m}. */
    public static VnetHeader read(MemorySegment m, int size) {
        checkSize(m, size);
        return new VnetHeader(Byte.toUnsignedInt(m.get(JAVA_BYTE, 0)), Byte.toUnsignedInt(m.get(JAVA_BYTE, 1)),
                Short.toUnsignedInt(m.get(LE16, 2)), Short.toUnsignedInt(m.get(LE16, 4)),
                Short.toUnsignedInt(m.get(LE16, 6)), Short.toUnsignedInt(m.get(LE16, 8)),
                size >= 12 ? Short.toUnsignedInt(m.get(LE16, 10)) : 0);
    }

    /** Writes this header in {@code size} bytes (10, or 12 with {@code num_buffers}) at the start of {@code m}. */
    public void write(MemorySegment m, int size) {
        checkSize(m, size);
        m.set(JAVA_BYTE, 0, (byte) flags);
        m.set(JAVA_BYTE, 1, (byte) gsoType);
        m.set(LE16, 2, (short) hdrLen);
        m.set(LE16, 4, (short) gsoSize);
        m.set(LE16, 6, (short) csumStart);
        m.set(LE16, 8, (short) csumOffset);
        if (size >= 12) {
            m.set(LE16, 10, (short) numBuffers);
        }
    }
}
