package io.vhost4j.kernel;

import io.vhost4j.Errno;
import io.vhost4j.BackendFeature;
import io.vhost4j.BackendFeatures;
import io.vhost4j.DeviceKind;
import io.vhost4j.Features;
import io.vhost4j.VhostException;
import io.vhost4j.VhostVsock;
import io.vhost4j.VirtioFeature;
import io.vhost4j.VringAddr;
import io.vhost4j.VsockFeature;

import io.vhost4j.testkit.GuestMemory;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.concurrent.ThreadLocalRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** vhost-vsock's own ioctls against the real {@code /dev/vhost-vsock}. */
@Tag("kernel")
class VhostVsockKernelTest {

    @BeforeEach
    void device() {
        KernelDevices.require("/dev/vhost-vsock");
    }

    private static long freshCid() {
        return 1000 + ThreadLocalRandom.current().nextLong(1_000_000);
    }

    @Test
    void featuresIncludeAccessPlatformAndSeqpacket() throws Exception {
        try (VhostVsock vsock = VhostVsock.open()) {
            Features f = vsock.getFeatures();
            assertTrue(f.has(VirtioFeature.ACCESS_PLATFORM), f.toString());
            assertTrue(f.has(VirtioFeature.VERSION_1), f.toString());
            assertTrue(f.has(VsockFeature.SEQPACKET), f.toString());
            assertTrue(f.toString().contains("SEQPACKET"), f.toString());
            assertEquals(BackendFeatures.of(BackendFeature.IOTLB_MSG_V2), vsock.getBackendFeatures());
        }
    }

    @Test
    void guestCidIsUniqueSystemWide() throws Exception {
        long cid = freshCid();
        try (VhostVsock a = VhostVsock.open(); VhostVsock b = VhostVsock.open()) {
            a.setOwner();
            b.setOwner();
            a.setGuestCid(cid);
            VhostException e = assertThrows(VhostException.class, () -> b.setGuestCid(cid));
            assertEquals(Errno.EADDRINUSE, e.errno(), e.getMessage());
            assertEquals("VHOST_VSOCK_SET_GUEST_CID", e.operation());
            b.setGuestCid(cid + 1);
        }
        try (VhostVsock c = VhostVsock.open()) { // closing released the CID
            c.setOwner();
            c.setGuestCid(cid);
        }
    }

    @Test
    void reservedCidsAreRefusedInJava() throws Exception {
        try (VhostVsock vsock = VhostVsock.open()) {
            for (long cid : new long[] {0, 1, 2, 0xffff_ffffL, -1}) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> vsock.setGuestCid(cid));
                assertTrue(e.getMessage().contains("CID"), e.getMessage());
            }
        }
    }

    @Test
    void runningStartsAndStopsWithRingsInPlace() throws Exception {
        try (VhostVsock vsock = VhostVsock.open(); GuestMemory mem = GuestMemory.allocate(0, 1 << 20)) {
            VhostException e = assertThrows(VhostException.class, () -> vsock.setRunning(true));
            assertEquals("EPERM", e.errnoName(), "needs an owner first: " + e.getMessage());
            vsock.setOwner();
            vsock.setFeatures(Features.of(DeviceKind.VSOCK, VirtioFeature.VERSION_1));
            vsock.setGuestCid(freshCid());
            vsock.setMemTable(mem.memoryTable());
            for (int q = 0; q < 2; q++) {
                long base = q * 0x10000L;
                vsock.setVringNum(q, 128);
                vsock.setVringBase(q, 7);
                vsock.setVringAddr(VringAddr.ofUser(q, mem.userAddress(base), mem.userAddress(base + 0x1000),
                        mem.userAddress(base + 0x2000)));
            }
            vsock.setRunning(true);
            assertEquals(7, vsock.getVringBase(1));
            vsock.setRunning(false);
            assertThrows(IllegalArgumentException.class, () -> vsock.setVringNum(2, 128));
        }
    }
}
