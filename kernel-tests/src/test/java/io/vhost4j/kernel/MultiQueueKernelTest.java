package io.vhost4j.kernel;

import io.vhost4j.iotlb.DeviceStats;
import io.vhost4j.iotlb.IotlbFault;
import io.vhost4j.iotlb.IotlbManager;
import io.vhost4j.iotlb.ManagedDevice;
import io.vhost4j.testkit.DmaWindow;
import io.vhost4j.testkit.MultiQueueNet;
import io.vhost4j.testkit.NetDriver;
import io.vhost4j.testkit.NetLoopback;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static io.vhost4j.kernel.TestValues.BATCH;
import static io.vhost4j.kernel.TestValues.PAGE;
import static io.vhost4j.kernel.TestValues.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A multi-queue guest: one vhost-net device per queue pair on one multi-queue tap, frames spread and exact. */
@Tag("kernel")
class MultiQueueKernelTest {
    private static final int PAIRS = 4;

    @BeforeEach
    void device() {
        KernelDevices.requireNet();
    }

    private static void assertSpread(int[] perPair, int total, String what) {
        assertEquals(total, Arrays.stream(perPair).sum(), what + ": " + Arrays.toString(perPair));
        assertTrue(Arrays.stream(perPair).filter(n -> n > 0).count() >= 2,
                what + " all on one queue: " + Arrays.toString(perPair));
    }

    @Test
    void framesSpreadOverFourQueuePairsArriveByteForByteBothWays() throws Exception {
        try (MultiQueueNet mq = MultiQueueNet.open(PAIRS, NetDriver.Config.defaults(), "vmq%d").start()) {
            int[] tx = mq.txRun(0, 200, BATCH, WAIT);
            assertEquals(List.of(50, 50, 50, 50), Arrays.stream(tx).boxed().toList());
            assertSpread(mq.rxRun(1000, 128, WAIT), 128, "RX by flow hash");
        }
    }

    @Test
    void withTheIotlbOnOneManagerServesEveryQueuePairsDevice() throws Exception {
        List<IotlbFault> faults = new CopyOnWriteArrayList<>();
        NetDriver.Config config = NetDriver.Config.defaults().withDma(DmaWindow.iova(NetLoopback.IOVA_OFFSET));
        try (MultiQueueNet mq = MultiQueueNet.open(PAIRS, config, "vmq%d");
             IotlbManager manager = IotlbManager.create((d, f) -> faults.add(f))) {
            List<ManagedDevice> mds = mq.startWithIotlb(manager, mq.offsetTranslator(PAGE));
            manager.start();
            assertEquals(PAIRS, manager.devices().size());
            assertEquals(List.of(25, 25, 25, 25), Arrays.stream(mq.txRun(0, 100, BATCH, WAIT)).boxed().toList());
            assertSpread(mq.rxRun(1000, 128, WAIT), 128, "RX by flow hash");
            assertEquals(List.of(), faults);
            for (ManagedDevice md : mds) {
                DeviceStats s = md.stats();
                assertTrue(s.misses() > 0 && s.faults() == 0, md + ": " + s); // each device missed and was served
            }
        }
    }
}
