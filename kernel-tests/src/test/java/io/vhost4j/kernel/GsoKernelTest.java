package io.vhost4j.kernel;

import io.vhost4j.TapOffload;
import io.vhost4j.TapOptions;
import io.vhost4j.testkit.DmaWindow;
import io.vhost4j.testkit.Frames;
import io.vhost4j.testkit.NetDriver;
import io.vhost4j.testkit.NetLoopback;
import io.vhost4j.testkit.PacketSocket;
import io.vhost4j.testkit.VnetHeader;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static io.vhost4j.internal.gen.VhostH.VIRTIO_NET_HDR_F_NEEDS_CSUM;
import static io.vhost4j.internal.gen.VhostH.VIRTIO_NET_HDR_GSO_NONE;
import static io.vhost4j.internal.gen.VhostH.VIRTIO_NET_HDR_GSO_TCPV4;
import static io.vhost4j.kernel.TestValues.WAIT;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * 64 KiB frames through vhost-net with checksum and segmentation offload: the driver's GSO frames reach the host
 * whole with their GSO metadata, the host's reach the driver whole over merged RX buffers where the tap takes TSO,
 * and are segmented by the kernel, byte for byte, where it does not.
 */
@Tag("kernel")
class GsoKernelTest {
    private static final int MSS = 1448, PAYLOAD = 60000, SIZE = Frames.TCP4_HEADERS + PAYLOAD;
    private static final NetDriver.Config MERGEABLE =
            new NetDriver.Config(256, true, false, 2048, DmaWindow.PHYSICAL, false, false);
    private static final TapOptions TSO = TapOptions.defaults().withOffloads(TapOffload.CSUM, TapOffload.TSO4,
            TapOffload.TSO6);

    @BeforeEach
    void device() {
        KernelDevices.requireNet();
    }

    private static MemorySegment frame(int seq) {
        return Frames.tcp4(Arena.ofAuto().allocate(SIZE), seq, 1000 * seq);
    }

    @Test
    void aSixtyKilobyteFrameTheDriverSendsReachesTheHostWholeWithItsGsoMetadata() throws Exception {
        try (NetLoopback l = NetLoopback.open(MERGEABLE, "vg%d", TSO).start();
             PacketSocket host = PacketSocket.open(l.tap(), Frames.IPV4).withVnetHeader()) {
            MemorySegment got = Arena.ofAuto().allocate(PacketSocket.MAX_FRAME);
            for (int seq = 0; seq < 8; seq++) {
                MemorySegment f = frame(seq);
                assertTrue(l.driver().transmit(f, VnetHeader.tcp4(14, MSS), WAIT));
                PacketSocket.Received r = host.receiveWithHeader(got, WAIT);
                assertTrue(r != null, "frame " + seq + " never reached the host");
                assertEquals(SIZE, r.length(), "one GSO packet, not segments");
                assertEquals(VIRTIO_NET_HDR_GSO_TCPV4(), r.header().gsoType());
                assertEquals(MSS, r.header().gsoSize());
                assertEquals(VIRTIO_NET_HDR_F_NEEDS_CSUM(), r.header().flags() & VIRTIO_NET_HDR_F_NEEDS_CSUM());
                assertEquals(-1, f.mismatch(got.asSlice(0, SIZE)), "frame " + seq + " byte for byte");
            }
            assertTrue(l.driver().flushTx(WAIT));
        }
    }

    @Test
    void aSixtyKilobyteFrameFromTheHostArrivesWholeOverMergedBuffersWhereTheTapTakesTso() throws Exception {
        try (NetLoopback l = NetLoopback.open(MERGEABLE, "vg%d", TSO).start();
             PacketSocket host = PacketSocket.open(l.tap(), Frames.IPV4).withVnetHeader()) {
            MemorySegment got = Arena.ofAuto().allocate(65536);
            for (int seq = 0; seq < 8; seq++) {
                MemorySegment f = frame(seq);
                host.sendWithHeader(VnetHeader.tcp4(14, MSS), f);
                int n = receiveIpv4(l, got);
                assertEquals(SIZE, n, "frame " + seq + " whole");
                assertEquals(VIRTIO_NET_HDR_GSO_TCPV4(), l.driver().lastHeader().gsoType());
                assertEquals(MSS, l.driver().lastHeader().gsoSize());
                assertTrue(l.driver().lastNumBuffers() >= SIZE / 2048, "over merged buffers: "
                        + l.driver().lastNumBuffers());
                assertEquals(-1, f.mismatch(got.asSlice(0, SIZE)), "frame " + seq + " byte for byte");
            }
        }
    }

    @Test
    void withoutTsoOnTheTapTheKernelSegmentsTheHostsFrameAndEverySegmentArrivesInOrder() throws Exception {
        TapOptions csumOnly = TapOptions.defaults().withOffloads(TapOffload.CSUM);
        try (NetLoopback l = NetLoopback.open(MERGEABLE, "vg%d", csumOnly).start();
             PacketSocket host = PacketSocket.open(l.tap(), Frames.IPV4).withVnetHeader()) {
            MemorySegment f = frame(3);
            host.sendWithHeader(VnetHeader.tcp4(14, MSS), f);
            MemorySegment got = Arena.ofAuto().allocate(65536);
            var be32 = JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
            int segments = (PAYLOAD + MSS - 1) / MSS, offset = 0;
            for (int s = 0; s < segments; s++) {
                int n = receiveIpv4(l, got);
                int payload = n - Frames.TCP4_HEADERS;
                assertEquals(Math.min(MSS, PAYLOAD - offset), payload, "segment " + s + " size");
                assertEquals(VIRTIO_NET_HDR_GSO_NONE(), l.driver().lastHeader().gsoType(), "a plain frame");
                assertEquals(3000 + offset, got.get(be32, 38), "segment " + s + " TCP sequence number");
                for (int i = 0; i < payload; i++) {
                    if (got.get(JAVA_BYTE, Frames.TCP4_HEADERS + i) != Frames.tcpPayloadByte(3, offset + i)) {
                        throw new AssertionError("segment " + s + " differs at payload byte " + (offset + i));
                    }
                }
                offset += payload;
            }
            assertEquals(PAYLOAD, offset);
        }
    }

    /** The next IPv4 frame on the driver's RX queue (the host's own IPv6 traffic skipped). */
    private static int receiveIpv4(NetLoopback l, MemorySegment got) throws Exception {
        while (true) {
            int n = l.driver().receive(got, WAIT);
            assertTrue(n > 0, "no frame on the RX queue");
            if (n >= 14 && got.get(JAVA_BYTE, 12) == 0x08 && got.get(JAVA_BYTE, 13) == 0x00) {
                return n;
            }
        }
    }
}
