package io.vhost4j.kernel;

import io.vhost4j.testkit.DmaRange;
import io.vhost4j.testkit.DmaWindow;
import io.vhost4j.testkit.NetDriver;
import io.vhost4j.testkit.NetLoopback;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.List;

import static io.vhost4j.kernel.TestValues.WAIT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The test kit as an outside user meets it: heap segments, typed DMA ranges, page-rounded memory. */
@Tag("kernel")
class TestKitApiKernelTest {

    @BeforeEach
    void device() {
        KernelDevices.requireNet();
    }

    @Test
    void packetSocketTakesAndFillsHeapSegments() throws Exception {
        try (NetLoopback loop = NetLoopback.open(NetDriver.Config.defaults(), "vk%d").start()) {
            MemorySegment native0 = loop.frame(7); // its numbered size, as expectOnRx checks
            byte[] sent = native0.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
            loop.peer().send(MemorySegment.ofArray(sent)); // a heap segment, into the tap
            loop.expectOnRx(7, WAIT);                     // arrives in the RX queue byte for byte

            assertTrue(loop.driver().transmit(loop.frame(8, 200), WAIT));
            byte[] got = new byte[2048];
            int n = loop.peer().receive(MemorySegment.ofArray(got), WAIT); // a heap segment, out of the tap
            assertEquals(200, n);
            assertArrayEquals(loop.frame(8, 200).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE),
                    java.util.Arrays.copyOf(got, n));
        }
    }

    @Test
    void rangesSayWhichAddressTheyAre() throws Exception {
        NetDriver.Config config = NetDriver.Config.defaults().withDma(DmaWindow.iova(NetLoopback.IOVA_OFFSET));
        assertEquals(0, config.memoryNeeded() % 4096, "page-rounded, as GuestMemory.allocate requires");
        try (NetLoopback loop = NetLoopback.open(config, "vk%d")) {
            NetDriver d = loop.driver();
            List<DmaRange> used = d.usedRings();
            assertEquals(d.rxQueue().usedGuestAddr(), used.get(0).guestPhysAddress());
            assertEquals(d.txQueue().usedGuestAddr(), used.get(1).guestPhysAddress());
            for (DmaRange r : List.of(used.get(0), used.get(1), d.rxBuffers(), d.txBuffers())) {
                assertEquals(r.guestPhysAddress() + NetLoopback.IOVA_OFFSET, r.deviceAddress(), r.toString());
                loop.memory().slice(r.guestPhysAddress(), r.size()); // inside the guest memory
            }
            assertEquals((long) config.queueSize() * config.rxBufferSize(), d.rxBuffers().size());
        }
    }

    @Test
    void theDriverRefusesTrafficBeforeConfigureAndConfiguresOnce() throws Exception {
        try (NetLoopback loop = NetLoopback.open(NetDriver.Config.defaults(), "vk%d")) {
            NetDriver d = loop.driver();
            // Before configure a frame would be left in flight in an unset queue (the next configure then failed).
            assertThrows(IllegalStateException.class, () -> d.transmit(loop.frame(0), WAIT));
            assertThrows(IllegalStateException.class, () -> d.queueTx(loop.frame(0), WAIT));
            assertThrows(IllegalStateException.class, () -> d.receive(loop.frame(0), WAIT));
            assertThrows(IllegalStateException.class, () -> d.attach(loop.tap()));
            // A batch of 0 looped forever; a negative count or start is refused too.
            assertThrows(IllegalArgumentException.class, () -> loop.txRun(0, 3, 0, WAIT));
            assertThrows(IllegalArgumentException.class, () -> loop.rxRun(0, -1, 1, WAIT));
            assertThrows(IllegalArgumentException.class, () -> loop.txRun(-1, 1, 1, WAIT));
            assertThrows(IllegalArgumentException.class, () -> loop.frame(0, 10), "a 10-byte frame");
            loop.start();
            assertThrows(IllegalStateException.class, loop::start, "configured once");
            // A null timeout is refused even where a TX slot is free and nothing would wait.
            assertThrows(NullPointerException.class, () -> d.transmit(loop.frame(0), null));
            assertThrows(NullPointerException.class, () -> loop.expectOnRx(0, null));
            loop.txRun(0, 4, 2, WAIT); // nothing was left behind by the refusals
            loop.rxRun(0, 4, 2, WAIT);
        }
    }

    @Test
    void aConfigureThatFailsHalfWayLeavesTheDeviceWithoutAnOwner() throws Exception {
        try (NetLoopback loop = NetLoopback.open(NetDriver.Config.defaults(), "vk%d")) {
            NetDriver d = loop.driver();
            d.txQueue().kickFd().close(); // VHOST_SET_VRING_KICK of the TX queue will fail, after the owner was set
            assertThrows(IllegalStateException.class, d::configure);
            loop.net().setOwner(); // was EBUSY: the failed configure had kept the owner
            assertEquals(null, loop.net().ackedFeatures(), "the acked features went with the owner");
            loop.net().resetOwner();
        }
    }

    @Test
    void aLayoutThatDoesNotFitOrWrapsIsRefusedBeforeAnyDescriptorIsOpened() throws Exception {
        NetDriver.Config config = NetDriver.Config.defaults();
        long base = NetLoopback.GUEST_BASE;
        try (io.vhost4j.VhostNet net = io.vhost4j.VhostNet.open(); io.vhost4j.VhostVsock vsock = io.vhost4j.VhostVsock.open();
             io.vhost4j.testkit.GuestMemory small = io.vhost4j.testkit.GuestMemory.allocate(base, 64 * 1024);
             io.vhost4j.testkit.GuestMemory whole = io.vhost4j.testkit.GuestMemory.allocate(base, config.memoryNeeded())) {
            long before = KernelDevices.openFds();
            for (int i = 0; i < 20; i++) { // each failure used to leave four eventfds open
                assertThrows(IllegalArgumentException.class, () -> NetDriver.create(net, small, base, config));
                assertThrows(IllegalArgumentException.class,
                        () -> io.vhost4j.testkit.VsockDriver.create(vsock, small, base, 256));
            }
            // IOVA = GPA + offset: the layout's first page at IOVA 2^64 - 4096, the rest past 2^64
            NetDriver.Config wraps = config.withDma(DmaWindow.iova(-base - 4096));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> NetDriver.create(net, whole, base, wraps));
            assertTrue(e.getMessage().contains("wraps"), e.getMessage());
            assertEquals(before, KernelDevices.openFds(), "no descriptor left open by the refusals");
            NetDriver.create(net, whole, base, config).close();
        }
    }

    @Test
    void aLoopbackMadeOnOneThreadIsDrivenOnAnotherAndClosedOnAThird() throws Exception {
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newSingleThreadExecutor();
        try {
            NetLoopback loop = pool.submit(() -> NetLoopback.open(NetDriver.Config.defaults(), "vk%d").start()).get();
            loop.txRun(0, 8, 4, WAIT); // this thread (was a WrongThreadException: its buffers were thread-confined)
            loop.rxRun(0, 8, 4, WAIT);
            Thread closer = new Thread(loop::close);
            java.util.concurrent.atomic.AtomicReference<Throwable> failed = new java.util.concurrent.atomic.AtomicReference<>();
            closer.setUncaughtExceptionHandler((t, e) -> failed.set(e));
            closer.start();
            closer.join();
            assertEquals(null, failed.get());
            assertTrue(loop.net().isClosed());
        } finally {
            pool.shutdownNow();
        }
    }
}
