package io.vhost4j;

import io.vhost4j.guest.GuestMemory;
import io.vhost4j.guest.NetDriver;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A vhost-net device with a userspace driver, a tap and a packet socket on the host side: what the
 * data-path and IOTLB kernel tests drive. Frames carry a private EtherType so the host's own traffic
 * (IPv6 neighbour discovery and the like) never mixes in.
 */
public final class NetFixture implements AutoCloseable {
    public static final int ETHER_TYPE = 0x88B5;
    public static final long GUEST_BASE = 0x4000_0000L;
    public static final Duration WAIT = Duration.ofSeconds(10);

    public final VhostNet net;
    public final GuestMemory memory;
    public final Tap tap;
    public final PacketSocket peer;
    public final NetDriver driver;
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment frame = arena.allocate(NetDriver.MAX_FRAME);
    private final MemorySegment got = arena.allocate(65536);

    /** Creates and configures everything up to the backend; call {@link NetDriver#attach} next. */
    public NetFixture(NetDriver.Config config) throws VhostException {
        VhostNet n = null;
        GuestMemory m = null;
        Tap t = null;
        PacketSocket p = null;
        try {
            n = VhostNet.open();
            m = GuestMemory.allocate(GUEST_BASE, (config.memoryNeeded() + 0xfffff) & ~0xfffffL);
            t = Tap.create("vt%d");
            p = PacketSocket.open(t, ETHER_TYPE);
            driver = NetDriver.create(n, m, GUEST_BASE, config);
        } catch (VhostException | RuntimeException e) {
            for (AutoCloseable c : new AutoCloseable[] {p, t, m, n}) {
                if (c != null) {
                    try {
                        c.close();
                    } catch (Exception ignored) {
                        // best effort
                    }
                }
            }
            throw e;
        }
        net = n;
        memory = m;
        tap = t;
        peer = p;
    }

    /** Frame {@code seq} of {@code size} bytes: broadcast-free header, our EtherType, a pattern from seq. */
    public MemorySegment frame(int seq, int size) {
        MemorySegment f = frame.asSlice(0, size);
        byte[] macs = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
        MemorySegment.copy(MemorySegment.ofArray(macs), 0, f, 0, 12);
        f.set(JAVA_BYTE, 12, (byte) (ETHER_TYPE >> 8));
        f.set(JAVA_BYTE, 13, (byte) ETHER_TYPE);
        f.set(JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN), 14, seq);
        for (int i = 18; i < size; i++) {
            f.set(JAVA_BYTE, i, (byte) (seq * 31 + i * 7));
        }
        return f;
    }

    /** Frame sizes cycle through 60..1514. */
    public static int sizeOf(int seq) {
        return 60 + (seq * 379) % (NetDriver.MAX_FRAME - 60 + 1);
    }

    /** Receives one frame on the packet socket and asserts it is frame {@code seq}, byte for byte. */
    public void expectOnTap(int seq) throws VhostException {
        int size = sizeOf(seq);
        int n = peer.receive(got, WAIT);
        assertTrue(n >= 0, "frame " + seq + " never reached the tap");
        assertFrame(seq, size, n);
    }

    /** Receives one frame through the driver's RX queue and asserts it is frame {@code seq}. */
    public void expectOnRx(int seq) throws Exception {
        int size = sizeOf(seq);
        int n;
        do { // the host stack sends its own frames (IPv6 neighbour discovery, MLD) out of the tap too
            n = driver.receive(got, WAIT);
            assertTrue(n >= 0, "frame " + seq + " never reached the RX queue");
        } while (n < 14 || (Short.toUnsignedInt(got.get(JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN), 12))
                != ETHER_TYPE && ++foreignFrames > 0));
        assertFrame(seq, size, n);
    }

    /** Frames of other EtherTypes the RX queue delivered (the host's own traffic), skipped by the tests. */
    public int foreignFrames;

    private void assertFrame(int seq, int size, int n) {
        MemorySegment expected = frame(seq, size);
        int gotSeq = got.get(JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN), 14);
        assertEquals(seq, gotSeq, "frames out of order or lost");
        assertEquals(size, n, "length of frame " + seq);
        assertEquals(-1L, expected.mismatch(got.asSlice(0, n)), "frame " + seq + " corrupted");
    }

    @Override
    public void close() {
        driver.close();
        peer.close();
        tap.close();
        net.close();
        memory.close();
        arena.close();
    }
}
