package io.vhost4j.kernel;

import io.vhost4j.VhostNet;
import io.vhost4j.VirtioFeature;

import io.vhost4j.testkit.DmaWindow;
import io.vhost4j.testkit.NetDriver;
import io.vhost4j.testkit.NetLoopback;
import io.vhost4j.testkit.SplitQueue;
import io.vhost4j.testkit.VringErrorException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static io.vhost4j.kernel.TestValues.BATCH;
import static io.vhost4j.kernel.TestValues.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Frames through vhost-net and a real tap, both ways, with the userspace driver. */
@Tag("kernel")
class NetDataPathKernelTest {

    @BeforeEach
    void device() {
        KernelDevices.requireNet();
    }

    private static NetLoopback started(NetDriver.Config config) throws Exception {
        NetLoopback f = NetLoopback.open(config, "vt%d");
        try {
            return f.start();
        } catch (Exception e) {
            f.close();
            throw e;
        }
    }

    @Test
    void txFramesReachTheTapByteForByteAcrossManyRingWraps() throws Exception {
        try (NetLoopback f = started(NetDriver.Config.defaults())) {
            f.txRun(0, 3000, BATCH, WAIT); // a 256-entry ring wraps 11 times
            assertTrue(f.driver().flushTx(WAIT));
            assertEquals(3000, f.driver().framesSent());
            f.driver().checkErrors();
        }
    }

    @Test
    void rxFramesReachTheRxQueueByteForByte() throws Exception {
        try (NetLoopback f = started(NetDriver.Config.defaults())) {
            f.rxRun(0, 3000, BATCH, WAIT);
            assertEquals(3000, f.driver().framesReceived() - f.foreignFrames());
            assertEquals(1, f.driver().lastNumBuffers());
        }
    }

    @Test
    void mergeableRxBuffersGatherLargeFramesFromSeveralBuffers() throws Exception {
        NetDriver.Config c = new NetDriver.Config(128, true, false, 512, DmaWindow.PHYSICAL, false, true);
        try (NetLoopback f = started(c)) {
            int multi = 0;
            for (int s = 0; s < 600; s++) {
                f.peer().send(f.frame(s));
                f.expectOnRx(s, WAIT);
                int expectedBuffers = (NetLoopback.sizeOf(s) + NetDriver.HEADER_SIZE + 511) / 512;
                assertEquals(expectedBuffers, f.driver().lastNumBuffers(), "num_buffers of frame " + s);
                multi += expectedBuffers > 1 ? 1 : 0;
            }
            assertTrue(multi > 300, "only " + multi + " frames spanned buffers");
        }
    }

    @Test
    void interleavedTxAndRxWithEventIdxAndASmallRing() throws Exception {
        NetDriver.Config c = new NetDriver.Config(64, false, true, 2048, DmaWindow.PHYSICAL, false, true);
        try (NetLoopback f = started(c)) {
            for (int round = 0; round < 40; round++) {
                f.txRun(round * 50, 50, BATCH, WAIT);
                f.rxRun(100_000 + round * 50, 50, BATCH, WAIT);
            }
            assertEquals(2000, f.driver().framesSent());
            assertEquals(2000, f.driver().framesReceived() - f.foreignFrames());
        }
    }

    @Test
    void indirectDescriptorsCarryHeaderAndFrameAsTwoBuffers() throws Exception {
        try (NetLoopback f = started(NetDriver.Config.defaults().withIndirectTx(true))) {
            f.txRun(0, 1000, BATCH, WAIT);
            f.rxRun(1000, 200, BATCH, WAIT);
            assertTrue(f.net().getFeatures().has(VirtioFeature.RING_INDIRECT_DESC));
            assertTrue(f.driver().features().has(VirtioFeature.RING_INDIRECT_DESC));
        }
    }

    @Test
    void stopAndRestartLosesAndDuplicatesNothing() throws Exception {
        try (NetLoopback f = started(NetDriver.Config.defaults())) {
            f.txRun(0, 100, BATCH, WAIT);
            f.rxRun(1000, 100, BATCH, WAIT);
            // Queue TX frames and RX frames, then stop before looking at them.
            for (int s = 100; s < 120; s++) {
                f.driver().transmit(f.frame(s), WAIT);
            }
            f.driver().detach();
            int txBase = f.net().getVringBase(VhostNet.TX);
            int rxBase = f.net().getVringBase(VhostNet.RX);
            for (int s = 1100; s < 1120; s++) {
                f.peer().send(f.frame(s)); // waits in the tap while the queue is stopped
            }
            f.net().setVringBase(VhostNet.TX, txBase);
            f.net().setVringBase(VhostNet.RX, rxBase);
            assertEquals(txBase, f.net().getVringBase(VhostNet.TX));
            f.driver().attach(f.tap());
            for (int s = 100; s < 120; s++) {
                f.expectOnTap(s, WAIT);
            }
            for (int s = 1100; s < 1120; s++) {
                f.expectOnRx(s, WAIT);
            }
            f.txRun(120, 100, BATCH, WAIT);
            f.rxRun(1120, 100, BATCH, WAIT);
            // Nothing more arrives: no duplicates.
            assertTrue(f.tapSilent(Duration.ofMillis(300)));
        }
    }

    @Test
    void aDescriptorOutsideGuestMemoryIsReportedThroughTheErrorEventfd() throws Exception {
        try (NetLoopback f = started(NetDriver.Config.defaults())) {
            f.txRun(0, 10, BATCH, WAIT);
            SplitQueue tx = f.driver().txQueue();
            tx.add(new SplitQueue.Buffer(0x7_0000_0000L, 100, false)); // not in the memory table
            tx.kick();
            VringErrorException e = assertThrows(VringErrorException.class,
                    () -> f.driver().flushTx(WAIT));
            assertEquals(VhostNet.TX, e.queue());
            assertTrue(e.getMessage().contains("/dev/vhost-net signalled"), e.getMessage());
        }
    }
}
