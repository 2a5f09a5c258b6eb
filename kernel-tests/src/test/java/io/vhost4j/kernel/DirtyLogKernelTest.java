package io.vhost4j.kernel;

import io.vhost4j.EventFd;
import io.vhost4j.VhostFeature;
import io.vhost4j.VhostNet;

import io.vhost4j.testkit.NetDriver;
import io.vhost4j.testkit.NetLoopback;
import io.vhost4j.testkit.SplitQueue;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;

import static io.vhost4j.kernel.TestValues.PAGE;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Dirty-page logging (VHOST_F_LOG_ALL, SET_LOG_BASE, SET_LOG_FD, VHOST_VRING_F_LOG) on the real kernel. */
@Tag("kernel")
class DirtyLogKernelTest {

    @BeforeEach
    void device() {
        KernelDevices.requireNet();
    }

    private static boolean dirty(MemorySegment log, long gpa) {
        long page = gpa / PAGE;
        return (log.get(JAVA_BYTE, page / 8) & (1 << (page % 8))) != 0;
    }

    @Test
    void receivedFramesAndUsedRingWritesMarkExactlyTheirPagesDirty() throws Exception {
        NetDriver.Config config = NetDriver.Config.defaults();
        try (NetLoopback f = NetLoopback.open(config, "vt%d"); Arena arena = Arena.ofConfined();
             EventFd logged = EventFd.create()) {
            long lastGpa = NetLoopback.GUEST_BASE + f.memory().regions().get(0).size();
            MemorySegment log = arena.allocate(lastGpa / PAGE / 8 + 8, 8); // one bit per 4 KiB page
            NetDriver d = f.driver();
            d.configure();
            // The kernel takes LOG_ALL even before a log base is set: its check is only access_ok() on the
            // range the log would span from address 0. Logging then needs the base, set next.
            f.net().setFeatures(d.features().with(VhostFeature.LOG_ALL));
            f.net().setLogBase(log.address());
            f.net().setLogFd(logged);
            f.net().setFeatures(d.features().with(VhostFeature.LOG_ALL));
            SplitQueue rx = d.rxQueue();
            f.net().setVringAddr(rx.vringAddr(VhostNet.RX).withLog(rx.usedGuestAddr()));
            d.attach(f.tap());
            f.rxRun(0, 8, 8, Duration.ofSeconds(10));

            long rxBuffers = NetLoopback.GUEST_BASE + 2 * SplitQueue.footprint(config.queueSize());
            long txBuffers = rxBuffers + (long) config.queueSize() * config.rxBufferSize();
            // The RX used ring (logged at its guest address) and the first RX buffers the device wrote into.
            assertTrue(dirty(log, rx.usedGuestAddr()), "RX used ring page not logged");
            assertTrue(dirty(log, rxBuffers), "first RX buffer page not logged");
            // Nothing the device never wrote: the TX buffers, the descriptor tables, memory past the buffers.
            assertFalse(dirty(log, txBuffers), "TX buffer page logged");
            assertFalse(dirty(log, rx.descGuestAddr()), "RX descriptor table logged (device only reads it)");
            assertFalse(dirty(log, txBuffers + (long) config.queueSize() * 2048 + PAGE), "unused page logged");
            assertTrue(logged.drain() > 0, "the log eventfd was not signalled");
        }
    }
}
