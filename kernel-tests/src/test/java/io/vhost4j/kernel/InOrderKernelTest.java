package io.vhost4j.kernel;

import io.vhost4j.VirtioFeature;
import io.vhost4j.VhostNet;
import io.vhost4j.testkit.NetDriver;
import io.vhost4j.testkit.NetLoopback;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static io.vhost4j.kernel.TestValues.BATCH;
import static io.vhost4j.kernel.TestValues.WAIT;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * VIRTIO_F_IN_ORDER (offered by vhost-net from Linux 6.17 or so; 7.3 here): the test kit's driver negotiates it
 * where offered, and its queues check the in-order used-ring contract on every used entry (a chain given back
 * out of order throws). Not applicable where the kernel does not offer it.
 */
@Tag("kernel")
class InOrderKernelTest {

    @BeforeEach
    void device() throws Exception {
        KernelDevices.requireNet();
        try (VhostNet net = VhostNet.open()) {
            KernelDevices.applicableOnlyIf(net.getFeatures().has(VirtioFeature.IN_ORDER),
                    "vhost-net does not offer IN_ORDER");
        }
    }

    private static void trafficBothWays(NetDriver.Config config, int frames) throws Exception {
        try (NetLoopback loop = NetLoopback.open(config, "vio%d").start()) {
            assertTrue(loop.driver().features().has(VirtioFeature.IN_ORDER), "negotiated where offered");
            assertTrue(loop.net().ackedFeatures().has(VirtioFeature.IN_ORDER), "and acked on the device");
            loop.txRun(0, frames, BATCH, WAIT);
            loop.rxRun(frames, frames, BATCH, WAIT);
            assertTrue(loop.driver().flushTx(WAIT));
        }
    }

    @Test
    void framesPassBothWaysWithChainsGivenBackInOrder() throws Exception {
        trafficBothWays(NetDriver.Config.defaults(), 600);
    }

    @Test
    void indirectTxChainsAlsoComeBackInOrder() throws Exception {
        trafficBothWays(NetDriver.Config.defaults().withIndirectTx(true), 300);
    }

    @Test
    void theDriverCanStillDeclineInOrder() throws Exception {
        try (NetLoopback loop = NetLoopback.open(NetDriver.Config.defaults().withInOrder(false), "vio%d").start()) {
            assertFalse(loop.net().ackedFeatures().has(VirtioFeature.IN_ORDER));
            loop.txRun(0, 100, BATCH, WAIT);
        }
    }
}
