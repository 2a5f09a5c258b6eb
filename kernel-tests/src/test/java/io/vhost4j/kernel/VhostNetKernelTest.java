package io.vhost4j.kernel;

import io.vhost4j.Errno;
import io.vhost4j.BackendFeature;
import io.vhost4j.BackendFeatures;
import io.vhost4j.DeviceKind;
import io.vhost4j.EventFd;
import io.vhost4j.Features;
import io.vhost4j.MemoryRegion;
import io.vhost4j.MemoryTable;
import io.vhost4j.NetFeature;
import io.vhost4j.Tap;
import io.vhost4j.VhostDevice;
import io.vhost4j.VhostException;
import io.vhost4j.VhostFeature;
import io.vhost4j.VhostNet;
import io.vhost4j.VirtioFeature;
import io.vhost4j.VringAddr;
import io.vhost4j.VringEndian;

import io.vhost4j.testkit.GuestMemory;
import io.vhost4j.internal.gen.vhost_memory;
import io.vhost4j.internal.gen.vhost_memory_region;
import io.vhost4j.internal.sys.Sys;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

import static io.vhost4j.internal.gen.VhostH.VHOST_SET_MEM_TABLE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every generic ioctl and the vhost-net backend against the real {@code /dev/vhost-net}. */
@Tag("kernel")
class VhostNetKernelTest {

    @BeforeEach
    void device() {
        KernelDevices.requireNet();
    }

    private static VhostException refused(Errno errno, org.junit.jupiter.api.function.Executable call) {
        VhostException e = assertThrows(VhostException.class, call);
        assertEquals(errno, e.errno(), e.getMessage());
        assertEquals(errno.name(), e.errnoName());
        assertEquals(errno.value(), e.errnoValue());
        return e;
    }

    @Test
    void featuresOfferedIncludeAccessPlatformAndPrintByName() throws Exception {
        try (VhostNet net = VhostNet.open()) {
            Features f = net.getFeatures();
            assertTrue(f.has(VirtioFeature.ACCESS_PLATFORM), f.toString());
            assertTrue(f.has(VirtioFeature.VERSION_1), f.toString());
            assertTrue(f.has(NetFeature.MRG_RXBUF), f.toString());
            assertTrue(f.has(VhostFeature.NET_VIRTIO_NET_HDR), f.toString());
            assertTrue(f.has(VhostFeature.LOG_ALL), f.toString());
            // Debian 12 offers 0x33d008000; Debian 13 adds RING_RESET (bit 40); 7.3 also IN_ORDER (bit 35).
            assertEquals(0x33d008000L, f.bits() & ~VirtioFeature.RING_RESET.mask() & ~VirtioFeature.IN_ORDER.mask(),
                    f.toString());
            assertTrue(f.toString().contains("ACCESS_PLATFORM") && f.toString().contains("MRG_RXBUF"), f.toString());
        }
    }

    @Test
    void setFeaturesAcceptsOfferedBitsAndRefusesOthersWithEopnotsupp() throws Exception {
        try (VhostNet net = VhostNet.open()) {
            net.setOwner();
            Features offered = net.getFeatures();
            net.setFeatures(Features.of(DeviceKind.NET, VirtioFeature.VERSION_1, NetFeature.MRG_RXBUF));
            assertEquals(offered, net.getFeatures(), "GET_FEATURES reports the offer, not the ack");
            VhostException e = refused(Errno.EOPNOTSUPP, () -> net.setFeatures(new Features(DeviceKind.NET, 1L << 63)));
            assertEquals("VHOST_SET_FEATURES", e.operation());
            assertEquals("/dev/vhost-net", e.device());
            assertTrue(e.getMessage().contains("VHOST_SET_FEATURES on /dev/vhost-net failed: EOPNOTSUPP"),
                    e.getMessage());
        }
    }

    @Test
    void backendFeaturesAreMsgV2AndOtherBitsAreRefused() throws Exception {
        try (VhostNet net = VhostNet.open()) {
            BackendFeatures offered = net.getBackendFeatures();
            assertEquals(BackendFeatures.of(BackendFeature.IOTLB_MSG_V2), offered, offered.toString());
            assertEquals("0x2 [IOTLB_MSG_V2]", offered.toString());
            net.setBackendFeatures(BackendFeatures.of(BackendFeature.IOTLB_MSG_V2));
            refused(Errno.EOPNOTSUPP, () -> net.setBackendFeatures(BackendFeatures.of(BackendFeature.IOTLB_BATCH)));
            refused(Errno.EOPNOTSUPP, () -> net.setBackendFeatures(BackendFeatures.of(BackendFeature.IOTLB_ASID)));
        }
    }

    @Test
    void ownerIsExclusiveAndResetReleasesIt() throws Exception {
        try (VhostNet net = VhostNet.open()) {
            refused(Errno.EPERM, () -> net.setVringNum(0, 256)); // vring calls need an owner
            net.setOwner();
            VhostException e = refused(Errno.EBUSY, net::setOwner);
            assertTrue(e.getMessage().contains("already has an owner"), e.getMessage());
            net.resetOwner();
            net.setOwner();
            net.setVringNum(0, 256);
        }
    }

    @Test
    void vringBaseReadsBackWhatWasSetOnBothQueues() throws Exception {
        try (VhostNet net = VhostNet.open()) {
            net.setOwner();
            net.setVringNum(VhostNet.RX, 256);
            net.setVringNum(VhostNet.TX, 1024);
            net.setVringBase(VhostNet.RX, 1234);
            net.setVringBase(VhostNet.TX, 0xffff);
            assertEquals(1234, net.getVringBase(VhostNet.RX));
            assertEquals(0xffff, net.getVringBase(VhostNet.TX));
            net.setVringBase(VhostNet.RX, 0);
            assertEquals(0, net.getVringBase(VhostNet.RX));
        }
    }

    @Test
    void vringNumAboveTheKernelLimitIsRefusedInJava() throws Exception {
        try (VhostNet net = VhostNet.open()) {
            net.setOwner();
            assertThrows(IllegalArgumentException.class, () -> net.setVringNum(0, 65536));
            assertThrows(IllegalArgumentException.class, () -> net.setVringNum(0, 100));
            net.setVringNum(0, VhostDevice.MAX_QUEUE_SIZE);
        }
    }

    @Test
    void busyLoopTimeoutReadsBack() throws Exception {
        try (VhostNet net = VhostNet.open()) {
            net.setOwner();
            assertEquals(0, net.getVringBusyloopTimeout(VhostNet.TX));
            net.setVringBusyloopTimeout(VhostNet.TX, 50);
            assertEquals(50, net.getVringBusyloopTimeout(VhostNet.TX));
            assertEquals(0, net.getVringBusyloopTimeout(VhostNet.RX));
        }
    }

    @Test
    void vringEndianIsNotBuiltIntoDebianKernels() throws Exception {
        // Debian builds without CONFIG_VHOST_CROSS_ENDIAN_LEGACY: the kernel answers ENOTTY.
        try (VhostNet net = VhostNet.open()) {
            net.setOwner();
            refused(Errno.ENOTTY, () -> net.setVringEndian(0, VringEndian.LITTLE));
            refused(Errno.ENOTTY, () -> net.getVringEndian(0));
        }
    }

    @Test
    void memTableRingsEventfdsLogAndBackend() throws Exception {
        try (VhostNet net = VhostNet.open(); GuestMemory mem = GuestMemory.allocate(0x100000, 1 << 20);
             Tap tap = Tap.create("vk%d"); EventFd kick = EventFd.create(); EventFd call = EventFd.create();
             EventFd err = EventFd.create(); EventFd logFd = EventFd.create()) {
            net.setOwner();
            net.setFeatures(Features.of(DeviceKind.NET, VirtioFeature.VERSION_1));
            net.setMemTable(mem.memoryTable());
            net.setMemTable(MemoryTable.empty());
            net.setMemTable(mem.memoryTable());
            for (int q = 0; q < 2; q++) {
                long base = 0x100000 + q * 0x10000L;
                net.setVringNum(q, 256);
                net.setVringBase(q, 0);
                net.setVringAddr(VringAddr.ofUser(q, mem.userAddress(base), mem.userAddress(base + 0x1000),
                        mem.userAddress(base + 0x2000)));
                net.setVringKick(q, kick);
                net.setVringCall(q, call);
                net.setVringErr(q, err);
            }
            MemorySegment log = mem.slice(0x1f0000, 4096);
            net.setLogBase(log.address());
            net.setLogFd(logFd);
            net.setLogFd(null);
            net.setBackend(VhostNet.RX, tap);
            net.setBackend(VhostNet.TX, tap);
            // Base is read back from the running queue too.
            assertEquals(0, net.getVringBase(VhostNet.TX));
            net.removeBackend(VhostNet.RX);
            net.removeBackend(VhostNet.TX);
            net.setVringKick(0, null);
            net.setVringCall(0, null);
            net.setVringErr(0, null);
            // IOVA addresses are refused while the IOTLB is off.
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> net.setVringAddr(VringAddr.ofIova(0, 0x1000, 0x2000, 0x3000)));
            assertTrue(e.getMessage().contains("use user addresses"), e.getMessage());
        }
    }

    @Test
    void unaccessibleRingIsRefusedWhenTheBackendStarts() throws Exception {
        try (VhostNet net = VhostNet.open(); GuestMemory mem = GuestMemory.allocate(0, 1 << 16);
             Tap tap = Tap.create("vk%d")) {
            net.setOwner();
            net.setFeatures(Features.of(DeviceKind.NET, VirtioFeature.VERSION_1));
            net.setMemTable(mem.memoryTable());
            net.setVringNum(0, 256);
            net.setVringAddr(VringAddr.ofUser(0, 0x10, 0x1000, 0x2000)); // far outside this process' memory
            refused(Errno.EFAULT, () -> net.setBackend(0, tap));
        }
    }

    @Test
    void kernelRefusesMemTablePaddingAndTooManyRegions() throws Exception {
        // The Java API cannot build these tables; raw ioctls show the kernel's own answer.
        try (VhostNet net = VhostNet.open(); Arena arena = Arena.ofConfined()) {
            net.setOwner();
            MemorySegment m = arena.allocate(vhost_memory.sizeof() + 65 * vhost_memory_region.sizeof(), 8);
            vhost_memory.nregions(m, 0);
            vhost_memory.padding(m, 1);
            assertEquals(-Errno.EOPNOTSUPP.value(), Sys.ioctl(net.fd(), VHOST_SET_MEM_TABLE(), m));
            vhost_memory.padding(m, 0);
            vhost_memory.nregions(m, 65);
            for (int i = 0; i < 65; i++) {
                MemorySegment r = m.asSlice(vhost_memory.regions$offset() + i * vhost_memory_region.sizeof(),
                        vhost_memory_region.sizeof());
                vhost_memory_region.guest_phys_addr(r, i * 0x10000L);
                vhost_memory_region.memory_size(r, 0x1000);
                vhost_memory_region.userspace_addr(r, 0x10000000L + i * 0x10000L);
            }
            assertEquals(-Errno.E2BIG.value(), Sys.ioctl(net.fd(), VHOST_SET_MEM_TABLE(), m));
            // ... and the Java API refuses the 65-region table before the kernel sees it.
            List<MemoryRegion> many = java.util.stream.IntStream.range(0, 65)
                    .mapToObj(i -> new MemoryRegion(i * 0x10000L, 0x1000, 0x10000000L + i * 0x10000L)).toList();
            assertThrows(IllegalArgumentException.class, () -> new MemoryTable(many));
        }
    }

    @Test
    void useAfterCloseIsAnIllegalStateAndCloseTwiceIsHarmless() throws Exception {
        VhostNet net = VhostNet.open();
        net.getFeatures();
        net.close();
        assertTrue(net.isClosed());
        IllegalStateException e = assertThrows(IllegalStateException.class, net::getFeatures);
        assertTrue(e.getMessage().contains("/dev/vhost-net is closed"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> net.setVringNum(0, 256));
        net.close();
        assertFalse(net.toString().isEmpty());
    }
}
