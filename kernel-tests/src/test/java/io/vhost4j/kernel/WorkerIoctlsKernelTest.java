package io.vhost4j.kernel;

import io.vhost4j.Errno;
import io.vhost4j.ForkOwner;
import io.vhost4j.VhostException;
import io.vhost4j.VhostDevice;
import io.vhost4j.VhostNet;
import io.vhost4j.VhostVsock;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The worker ioctls: VHOST_SET/GET_FORK_FROM_OWNER where the kernel has them, the vring worker calls. */
@Tag("kernel")
class WorkerIoctlsKernelTest {

    @BeforeEach
    void device() {
        KernelDevices.requireNet();
    }

    @Test
    void forkFromOwnerRoundTripsBeforeTheOwnerAndIsRefusedAfterOrIsAbsentAsEnotty() throws Exception {
        try (VhostNet net = VhostNet.open()) {
            forkFromOwner(net);
        }
    }

    @Test
    void vhostVsockHasTheSameForkFromOwnerCalls() throws Exception {
        KernelDevices.require("/dev/vhost-vsock");
        try (VhostVsock vsock = VhostVsock.open()) {
            forkFromOwner(vsock);
        }
    }

    /** Round trip where the kernel has the calls, ENOTTY where it does not; the owner fixes the mode. */
    private static void forkFromOwner(VhostDevice device) throws Exception {
        Optional<ForkOwner> mode = device.getForkFromOwner();
        if (mode.isEmpty()) { // this kernel lacks it: unknown to it before the owner (EPERM) and after (ENOTTY)
            VhostException e = assertThrows(VhostException.class, () -> device.setForkFromOwner(ForkOwner.KTHREAD));
            assertEquals(Errno.ENOTTY, e.errno(), e.getMessage());
            device.setOwner();
            assertEquals(Optional.empty(), device.getForkFromOwner());
            return;
        }
        assertEquals(ForkOwner.TASK, mode.get(), "the default since 6.4");
        device.setForkFromOwner(ForkOwner.KTHREAD);
        assertEquals(Optional.of(ForkOwner.KTHREAD), device.getForkFromOwner());
        device.setForkFromOwner(ForkOwner.TASK);
        assertEquals(Optional.of(ForkOwner.TASK), device.getForkFromOwner());
        device.setOwner();
        VhostException e = assertThrows(VhostException.class, () -> device.setForkFromOwner(ForkOwner.KTHREAD));
        assertEquals(Errno.EBUSY, e.errno(), "only before the owner: " + e.getMessage());
    }

    @Test
    void vhostNetAnswersTheVringWorkerCallsWithEnotty() throws Exception {
        try (VhostNet net = VhostNet.open()) {
            net.setOwner();
            assertEquals(Errno.ENOTTY, assertThrows(VhostException.class, net::newWorker).errno());
            assertEquals(Errno.ENOTTY, assertThrows(VhostException.class, () -> net.getVringWorker(0)).errno());
            assertEquals(Errno.ENOTTY, assertThrows(VhostException.class, () -> net.attachVringWorker(0, 0)).errno());
            assertEquals(Errno.ENOTTY, assertThrows(VhostException.class, () -> net.freeWorker(0)).errno());
            // A worker id beyond the queues: the kernel reads it as a queue index (VHOST_FREE_WORKER reaches the
            // vring calls), so the errno is ENOBUFS, and the message says why.
            VhostException beyond = assertThrows(VhostException.class, () -> net.freeWorker(999));
            assertEquals(Errno.ENOBUFS, beyond.errno());
            assertTrue(beyond.getMessage().contains("no worker calls"), beyond.getMessage());
        }
    }
}
