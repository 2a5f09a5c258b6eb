package io.vhost4j;

import io.vhost4j.guest.DmaWindow;
import io.vhost4j.guest.NetDriver;
import io.vhost4j.guest.SplitQueue;
import io.vhost4j.guest.VringErrorException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Frames through vhost-net and a real tap, both ways, with the userspace driver. */
@Tag("kernel")
class NetDataPathKernelTest {
    private static final int BATCH = 32;

    @BeforeEach
    void device() {
        KernelDevices.requireNet();
    }

    private static NetFixture started(NetDriver.Config config) throws Exception {
        NetFixture f = new NetFixture(config);
        try {
            f.driver.configure();
            f.driver.attach(f.tap);
            return f;
        } catch (Exception e) {
            f.close();
            throw e;
        }
    }

    /** Sends {@code count} frames from {@code from} on TX in batches, checking each arrives on the tap. */
    static void txRun(NetFixture f, int from, int count) throws Exception {
        for (int i = from; i < from + count; i += BATCH) {
            int end = Math.min(from + count, i + BATCH);
            for (int s = i; s < end; s++) {
                assertTrue(f.driver.transmit(f.frame(s, NetFixture.sizeOf(s)), NetFixture.WAIT), "TX slot");
            }
            for (int s = i; s < end; s++) {
                f.expectOnTap(s);
            }
        }
    }

    /** Sends {@code count} frames into the tap in batches, checking each arrives in an RX buffer. */
    static void rxRun(NetFixture f, int from, int count) throws Exception {
        for (int i = from; i < from + count; i += BATCH) {
            int end = Math.min(from + count, i + BATCH);
            for (int s = i; s < end; s++) {
                f.peer.send(f.frame(s, NetFixture.sizeOf(s)));
            }
            for (int s = i; s < end; s++) {
                f.expectOnRx(s);
            }
        }
    }

    @Test
    void txFramesReachTheTapByteForByteAcrossManyRingWraps() throws Exception {
        try (NetFixture f = started(NetDriver.Config.defaults())) {
            txRun(f, 0, 3000); // a 256-entry ring wraps 11 times
            assertTrue(f.driver.flushTx(NetFixture.WAIT));
            assertEquals(3000, f.driver.framesSent());
            f.driver.checkErrors();
        }
    }

    @Test
    void rxFramesReachTheRxQueueByteForByte() throws Exception {
        try (NetFixture f = started(NetDriver.Config.defaults())) {
            rxRun(f, 0, 3000);
            assertEquals(3000, f.driver.framesReceived() - f.foreignFrames);
            assertEquals(1, f.driver.lastNumBuffers());
        }
    }

    @Test
    void mergeableRxBuffersGatherLargeFramesFromSeveralBuffers() throws Exception {
        NetDriver.Config c = new NetDriver.Config(128, true, false, 512, DmaWindow.PHYSICAL);
        try (NetFixture f = started(c)) {
            int multi = 0;
            for (int s = 0; s < 600; s++) {
                f.peer.send(f.frame(s, NetFixture.sizeOf(s)));
                f.expectOnRx(s);
                int expectedBuffers = (NetFixture.sizeOf(s) + NetDriver.HEADER_SIZE + 511) / 512;
                assertEquals(expectedBuffers, f.driver.lastNumBuffers(), "num_buffers of frame " + s);
                multi += expectedBuffers > 1 ? 1 : 0;
            }
            assertTrue(multi > 300, "only " + multi + " frames spanned buffers");
        }
    }

    @Test
    void interleavedTxAndRxWithEventIdxAndASmallRing() throws Exception {
        NetDriver.Config c = new NetDriver.Config(64, false, true, 2048, DmaWindow.PHYSICAL);
        try (NetFixture f = started(c)) {
            for (int round = 0; round < 40; round++) {
                txRun(f, round * 50, 50);
                rxRun(f, 100_000 + round * 50, 50);
            }
            assertEquals(2000, f.driver.framesSent());
            assertEquals(2000, f.driver.framesReceived() - f.foreignFrames);
        }
    }

    @Test
    void stopAndRestartLosesAndDuplicatesNothing() throws Exception {
        try (NetFixture f = started(NetDriver.Config.defaults())) {
            txRun(f, 0, 100);
            rxRun(f, 1000, 100);
            // Queue TX frames and RX frames, then stop before looking at them.
            for (int s = 100; s < 120; s++) {
                f.driver.transmit(f.frame(s, NetFixture.sizeOf(s)), NetFixture.WAIT);
            }
            f.driver.detach();
            int txBase = f.net.getVringBase(VhostNet.TX);
            int rxBase = f.net.getVringBase(VhostNet.RX);
            for (int s = 1100; s < 1120; s++) {
                f.peer.send(f.frame(s, NetFixture.sizeOf(s))); // waits in the tap while the queue is stopped
            }
            f.net.setVringBase(VhostNet.TX, txBase);
            f.net.setVringBase(VhostNet.RX, rxBase);
            assertEquals(txBase, f.net.getVringBase(VhostNet.TX));
            f.driver.attach(f.tap);
            for (int s = 100; s < 120; s++) {
                f.expectOnTap(s);
            }
            for (int s = 1100; s < 1120; s++) {
                f.expectOnRx(s);
            }
            txRun(f, 120, 100);
            rxRun(f, 1120, 100);
            // Nothing more arrives: no duplicates.
            assertEquals(-1, f.peer.receive(f.memory.slice(NetFixture.GUEST_BASE, 2048), Duration.ofMillis(300)));
        }
    }

    @Test
    void aDescriptorOutsideGuestMemoryIsReportedThroughTheErrorEventfd() throws Exception {
        try (NetFixture f = started(NetDriver.Config.defaults())) {
            txRun(f, 0, 10);
            SplitQueue tx = f.driver.txQueue();
            tx.add(new SplitQueue.Buffer(0x7_0000_0000L, 100, false)); // not in the memory table
            tx.kick();
            VringErrorException e = assertThrows(VringErrorException.class,
                    () -> f.driver.flushTx(NetFixture.WAIT));
            assertEquals(VhostNet.TX, e.queue());
            assertTrue(e.getMessage().contains("/dev/vhost-net signalled"), e.getMessage());
        }
    }
}
