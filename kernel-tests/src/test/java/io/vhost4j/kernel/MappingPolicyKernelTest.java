package io.vhost4j.kernel;

import io.vhost4j.Access;
import io.vhost4j.iotlb.DeviceStats;
import io.vhost4j.iotlb.IotlbFault;
import io.vhost4j.iotlb.IotlbManager;
import io.vhost4j.iotlb.ManagedDevice;
import io.vhost4j.iotlb.MappingPolicy;
import io.vhost4j.testkit.DmaWindow;
import io.vhost4j.testkit.NetDriver;
import io.vhost4j.testkit.NetLoopback;
import io.vhost4j.testkit.VirtualIommu;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static io.vhost4j.kernel.TestValues.BATCH;
import static io.vhost4j.kernel.TestValues.PAGE;
import static io.vhost4j.kernel.TestValues.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The manager's mapping policies against the real kernel, and a guest-like vIOMMU driving the test kit's driver. */
@Tag("kernel")
class MappingPolicyKernelTest {

    @BeforeEach
    void device() {
        KernelDevices.requireNet();
    }

    private static DeviceStats traffic(MappingPolicy policy) throws Exception {
        try (IotlbRig r = IotlbRig.started(PAGE, policy)) {
            r.loop.txRun(0, 200, BATCH, WAIT);
            r.loop.rxRun(1000, 200, BATCH, WAIT);
            assertEquals(List.of(), r.faults);
            return r.md.stats();
        }
    }

    @Test
    void coalescingCarriesTheSameTrafficWithAQuarterOfTheMissesAndEntries() throws Exception {
        DeviceStats exact = traffic(MappingPolicy.exact());
        DeviceStats coalescing = traffic(MappingPolicy.coalescing());
        long askedExact = exact.misses() - exact.duplicates(), askedCoalescing = coalescing.misses() - coalescing.duplicates();
        assertTrue(askedExact > 50, exact.toString()); // 4 KiB entries: rings and buffers page by page
        assertTrue(4 * askedCoalescing < askedExact, coalescing + " vs " + exact); // duplicates: see below
        assertTrue(4 * coalescing.mapped() < exact.mapped(), coalescing + " vs " + exact);
    }

    @Test
    void framesQueuedWithoutAKickArePublishedByOneKickAndAllArrive() throws Exception {
        try (IotlbRig r = IotlbRig.started(PAGE, MappingPolicy.exact().withPrefetch(8))) {
            for (int batch = 0; batch < 4; batch++) {
                for (int s = 0; s < BATCH; s++) {
                    assertTrue(r.loop.driver().queueTx(r.loop.frame(batch * BATCH + s), WAIT));
                }
                r.loop.driver().kickTx();
                for (int s = 0; s < BATCH; s++) {
                    r.loop.expectOnTap(batch * BATCH + s, WAIT);
                }
            }
            assertEquals(List.of(), r.faults);
        }
    }

    @Test
    void prefetchMapsAheadOfASequentialWalkAndSavesMisses() throws Exception {
        DeviceStats exact = traffic(MappingPolicy.exact());
        DeviceStats ahead = traffic(MappingPolicy.exact().withPrefetch(8));
        assertTrue(ahead.prefetches() > 0, ahead.toString());
        // Addresses the device had to ask for: duplicates (the kernel re-raises a MISS while the first waits, the more
        // so while the prefetched UPDATEs are written) ask for nothing new, and their count is the emulator's timing.
        long askedAhead = ahead.misses() - ahead.duplicates(), askedExact = exact.misses() - exact.duplicates();
        assertTrue(2 * askedAhead < askedExact, ahead + " vs " + exact);
    }

    @Test
    void anInvalidatedPageInsideACoalescedMappingFaultsWhileItsNeighboursMissAgainAndWork() throws Exception {
        try (IotlbRig r = IotlbRig.started(PAGE, MappingPolicy.coalescing())) {
            r.loop.txRun(0, 40, BATCH, WAIT);
            r.loop.rxRun(1000, 40, BATCH, WAIT);
            long hole = (r.loop.driver().nextTxGuestAddr() + IotlbRig.OFFSET) & -PAGE; // the next frame's page
            assertTrue(r.md.isMapped(hole - PAGE, Access.RO) && r.md.isMapped(hole, Access.RO)
                    && r.md.isMapped(hole + PAGE, Access.RO), "one coalesced mapping covers the page and its neighbours");

            r.translator.override(hole, PAGE, null); // the guest unmaps the page: first the vIOMMU...
            r.md.invalidate(hole, PAGE);             // ...then the device's IOTLB
            assertFalse(r.md.isMapped(hole - PAGE, Access.RO) || r.md.isMapped(hole + PAGE, Access.RO),
                    "INVALIDATE drops the whole overlapping entry");

            DeviceStats before = r.md.stats();
            r.loop.rxRun(2000, 40, BATCH, WAIT); // the neighbours miss again, and keep working byte for byte
            assertTrue(r.md.stats().misses() > before.misses(), r.md.stats().toString());
            assertEquals(List.of(), r.faults);

            assertTrue(r.loop.driver().transmit(r.loop.frame(40), WAIT)); // through the unmapped page
            IotlbFault fault = awaitFault(r);
            assertEquals(IotlbFault.Reason.NO_MAPPING, fault.reason());
            assertEquals(hole, fault.iova() & -PAGE, fault.toString());
            assertTrue(r.loop.tapSilent(Duration.ofMillis(300)), "the frame of the unmapped page went out");
            assertFalse(r.md.isMapped(hole, Access.RO), "no coalesced mapping grew over the hole");
            assertTrue(r.md.isMapped(hole - PAGE, Access.RO), "the page below was mapped again up to the hole");

            r.translator.clearOverrides(); // the guest maps it again
            assertTrue(r.md.retryFaults() >= 1);
            r.loop.expectOnTap(40, WAIT);
            r.loop.txRun(41, 40, BATCH, WAIT);
            assertTrue(r.faults.stream().allMatch(f -> (f.iova() & -PAGE) == hole), r.faults.toString());
        }
    }

    private static IotlbFault awaitFault(IotlbRig r) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (r.faults.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertFalse(r.faults.isEmpty(), "no fault within " + WAIT);
        return r.faults.get(0);
    }

    private static void guestLikeTraffic(VirtualIommu.Mode mode, MappingPolicy policy) throws Exception {
        List<IotlbFault> faults = new CopyOnWriteArrayList<>();
        try (NetLoopback loop = NetLoopback.open(NetDriver.Config.defaults().withDma(DmaWindow.iova(IotlbRig.OFFSET)),
                "vt%d");
             VirtualIommu viommu = loop.viommu(mode, 4096, 32, Duration.ofMillis(2));
             IotlbManager manager = IotlbManager.create((d, f) -> faults.add(f))) {
            ManagedDevice md = loop.startWithViommu(manager, viommu, policy);
            manager.start();
            loop.txRun(0, 150, BATCH, WAIT);
            loop.rxRun(1000, 150, BATCH, WAIT);
            assertTrue(loop.driver().flushTx(WAIT)); // every TX frame given back, so unmapped
            String what = mode + " " + policy + ": " + md.stats() + " " + viommu.stats();
            // A duplicate MISS read after its buffer was used and unmapped is refused, but as stale, not a fault.
            assertTrue(faults.stream().allMatch(f -> f.reason() == IotlbFault.Reason.STALE_MISS), what + faults);
            assertEquals(0, md.unansweredFaults(), what);
            VirtualIommu.Stats v = viommu.stats();
            assertTrue(v.maps() >= 300 + 256, what); // every frame and every RX buffer was mapped on its own
            assertTrue(v.unmaps() >= 300, what);
            if (mode == VirtualIommu.Mode.STRICT) {
                assertEquals(v.unmaps(), v.invalidations(), what);
            } else {
                assertTrue(v.invalidations() > 0 && 4 * v.invalidations() < v.unmaps(), what);
            }
            assertTrue(md.stats().misses() > 0, what);
            assertTrue(md.stats().invalidations() >= v.invalidations(), what);
        }
    }

    @Test
    void aStrictGuestWithPerBufferMappingsPassesEveryFrameUnderEveryPolicy() throws Exception {
        guestLikeTraffic(VirtualIommu.Mode.STRICT, MappingPolicy.exact());
        guestLikeTraffic(VirtualIommu.Mode.STRICT, MappingPolicy.coalescing());
        guestLikeTraffic(VirtualIommu.Mode.STRICT, MappingPolicy.coalescing().withPrefetch(8));
    }

    @Test
    void aLazyGuestWithBatchedInvalidationsPassesEveryFrameUnderEveryPolicy() throws Exception {
        guestLikeTraffic(VirtualIommu.Mode.LAZY, MappingPolicy.exact());
        guestLikeTraffic(VirtualIommu.Mode.LAZY, MappingPolicy.coalescing());
        guestLikeTraffic(VirtualIommu.Mode.LAZY, MappingPolicy.coalescing().withPrefetch(8));
    }
}
