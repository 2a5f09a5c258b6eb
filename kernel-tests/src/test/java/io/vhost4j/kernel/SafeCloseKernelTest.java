package io.vhost4j.kernel;

import io.vhost4j.DeviceKind;
import io.vhost4j.Features;
import io.vhost4j.IotlbMessage;
import io.vhost4j.VhostNet;
import io.vhost4j.VirtioFeature;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Threads hammer ioctls and IOTLB writes on a device while another thread closes it and opens new devices,
 * which take the freed descriptor numbers: no call may reach a new device.
 */
@Tag("kernel")
class SafeCloseKernelTest {
    private static final int MARK = 0x1234; // the vring base the hammers write: a new device starts at 0

    @BeforeEach
    void device() {
        KernelDevices.requireNet();
    }

    @Test
    void closingWhileOtherThreadsCallNeverReachesADeviceThatReusedTheNumber() throws Exception {
        for (int round = 0; round < 5; round++) {
            VhostNet victim = VhostNet.open();
            victim.setOwner();
            victim.setFeatures(Features.of(DeviceKind.NET, VirtioFeature.VERSION_1, VirtioFeature.ACCESS_PLATFORM));
            AtomicInteger sawClosed = new AtomicInteger();
            ConcurrentLinkedQueue<Throwable> wrong = new ConcurrentLinkedQueue<>();
            List<Thread> hammers = new ArrayList<>();
            for (int t = 0; t < 3; t++) {
                boolean iotlb = t == 2;
                hammers.add(Thread.ofPlatform().start(() -> {
                    while (true) { // until the close: every hammer must see it
                        try {
                            if (iotlb) {
                                victim.writeIotlb(IotlbMessage.invalidate(0x1000, 0x1000));
                            } else {
                                victim.setVringBase(0, MARK);
                            }
                        } catch (IllegalStateException closed) {
                            sawClosed.incrementAndGet();
                            return;
                        } catch (Throwable other) { // EBADF, or an error from a device that is not ours
                            wrong.add(other);
                            return;
                        }
                    }
                }));
            }
            Thread.sleep(20);
            victim.close();
            List<VhostNet> fresh = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                VhostNet n = VhostNet.open();
                n.setOwner();
                fresh.add(n);
            }
            for (Thread h : hammers) {
                h.join();
            }
            for (VhostNet n : fresh) {
                assertEquals(0, n.getVringBase(0), "a call on the closed device reached a new one");
                n.close();
            }
            assertTrue(wrong.isEmpty(), "callers must only see IllegalStateException: " + wrong);
            assertEquals(3, sawClosed.get());
        }
    }
    @Test
    void closingADeviceTheManagerServesNeverLetsTheManagerReachAnotherFile() throws Exception {
        try (IotlbRig r = IotlbRig.started(TestValues.PAGE)) {
            ConcurrentLinkedQueue<Throwable> traffic = new ConcurrentLinkedQueue<>();
            Thread tx = Thread.ofPlatform().start(() -> {
                java.lang.foreign.MemorySegment frame = java.lang.foreign.Arena.ofAuto().allocate(100); // this thread's
                try {
                    for (int i = 0; ; i++) { // ends with the IllegalStateException of the closed device
                        r.loop.driver().transmit(frame, java.time.Duration.ofMillis(100));
                        if (i % 32 == 31) {
                            r.md.invalidate(r.loop.driver().txBuffers().deviceAddress(), 1 << 20); // more misses
                        }
                    }
                } catch (Throwable t) {
                    traffic.add(t);
                }
            });
            Thread.sleep(300);
            r.loop.net().close(); // while the manager drains its misses
            List<VhostNet> fresh = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                fresh.add(VhostNet.open());
            }
            tx.join();
            long deadline = System.nanoTime() + TestValues.WAIT.toNanos();
            while (!r.manager.devices().isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertTrue(r.manager.devices().isEmpty(), "the manager dropped the closed device");
            assertTrue(r.faults.stream().noneMatch(f -> f.detail().contains("EBADF")), r.faults.toString());
            assertTrue(traffic.peek() instanceof IllegalStateException, "the traffic thread saw the close: " + traffic);
            fresh.forEach(VhostNet::close);
        }
    }
}
