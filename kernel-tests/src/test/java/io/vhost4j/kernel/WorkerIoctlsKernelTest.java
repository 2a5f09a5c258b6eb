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

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
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

    /**
     * Where the worker is a task of the owner (Linux 6.4 and later, {@link ForkOwner#TASK}), it counts against the
     * owner's cgroup task limit: {@code SET_OWNER} beyond {@code pids.max} fails, with ENOMEM (vhost's word for any
     * failure to create it) and a hint that names the limit, and the cgroup counts the refused fork. A kthread worker
     * (6.1, or {@link ForkOwner#KTHREAD} where the kernel lets the owner choose) is made by kthreadd and is not
     * refused. This JVM is moved into a cgroup of its own for the two calls, and back.
     */
    @Test
    void aWorkerTaskCountsAgainstTheOwnersPidsLimitAndTheEnomemSaysSo() throws Exception {
        Path cgroups = Path.of("/sys/fs/cgroup");
        assertTrue(Files.exists(cgroups.resolve("cgroup.controllers")), "cgroup2 at /sys/fs/cgroup (ci/guest-docker)");
        String own = Files.readAllLines(Path.of("/proc/self/cgroup")).stream().filter(l -> l.startsWith("0::"))
                .findFirst().orElseThrow().substring(3);
        Path home = cgroups.resolve(own.substring(1));
        String pid = Long.toString(ProcessHandle.current().pid());
        Files.writeString(cgroups.resolve("cgroup.subtree_control"), "+pids");
        Path limited = Files.createDirectory(cgroups.resolve("vhost4j-pids-" + pid));
        try (VhostNet task = VhostNet.open(); VhostNet kthread = VhostNet.open()) {
            boolean modes = task.getForkFromOwner().isPresent(); // else 6.1: a kthread worker, always
            if (modes) {
                assertEquals(Optional.of(ForkOwner.TASK), task.getForkFromOwner(), "the default since 6.4");
                kthread.setForkFromOwner(ForkOwner.KTHREAD);
            }
            long refusedBefore = refusedForks(limited);
            VhostException refused = null;
            Files.writeString(limited.resolve("cgroup.procs"), pid);
            try {
                Files.writeString(limited.resolve("pids.max"), Files.readString(limited.resolve("pids.current")).trim());
                try {
                    task.setOwner();
                } catch (VhostException e) {
                    refused = e;
                }
                kthread.setOwner();
            } finally {
                Files.writeString(limited.resolve("pids.max"), "max");
                Files.writeString(home.resolve("cgroup.procs"), pid);
            }
            if (modes) {
                assertNotNull(refused, "a worker task beyond pids.max");
                assertEquals(Errno.ENOMEM, refused.errno(), refused.getMessage());
                assertTrue(refused.getMessage().contains("pids.max"), refused.getMessage());
                assertEquals(refusedBefore + 1, refusedForks(limited), "the cgroup refused one fork");
                task.setOwner(); // outside the limit: the same device takes its owner
            } else {
                assertNull(refused, "a kthread worker is not the owner's task");
                assertEquals(refusedBefore, refusedForks(limited));
            }
        } finally {
            Files.delete(limited);
        }
    }

    /** The forks the cgroup refused at its limit ({@code max} in {@code pids.events}). */
    private static long refusedForks(Path cgroup) throws Exception {
        return Files.readAllLines(cgroup.resolve("pids.events")).stream().filter(l -> l.startsWith("max "))
                .mapToLong(l -> Long.parseLong(l.substring(4).trim())).findFirst().orElseThrow();
    }
}
