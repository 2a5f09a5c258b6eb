package io.vhost4j.kernel;

import io.vhost4j.Access;
import io.vhost4j.vdpa.VdpaManagement;
import io.vhost4j.vdpa.VduseHandler;
import io.vhost4j.vdpa.VduseDevice;
import io.vhost4j.vdpa.VduseConfig;
import io.vhost4j.DeviceKind;
import io.vhost4j.Features;
import io.vhost4j.PackedVringBase;
import io.vhost4j.BackendFeature;
import io.vhost4j.BackendFeatures;
import io.vhost4j.DeviceStatus;
import io.vhost4j.DeviceStatusBit;
import io.vhost4j.Errno;
import io.vhost4j.IotlbMessage;
import io.vhost4j.IovaRange;
import io.vhost4j.VhostException;
import io.vhost4j.VhostVdpa;
import io.vhost4j.VirtioFeature;
import io.vhost4j.testkit.DmaRange;
import io.vhost4j.testkit.DmaWindow;
import io.vhost4j.testkit.Frames;
import io.vhost4j.testkit.NetDriver;
import io.vhost4j.testkit.VdpaNetLoopback;
import io.vhost4j.testkit.VduseNetDevice;
import io.vhost4j.vdpa.IovaFaultException;
import io.vhost4j.vdpa.VdpaBus;
import io.vhost4j.vdpa.VdpaDeviceInfo;
import io.vhost4j.vdpa.VdpaManagementDevice;
import io.vhost4j.vdpa.VduseControl;
import io.vhost4j.vdpa.VduseIotlb;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static io.vhost4j.kernel.TestValues.PAGE;
import static io.vhost4j.kernel.TestValues.WAIT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * vhost-vdpa against a VDUSE net device written in Java (the test kit's {@link VduseNetDevice}, looping TX to
 * RX), created through {@code /dev/vduse/control}, added to the vDPA bus by generic netlink and bound to
 * vhost_vdpa. Needs Linux 6.10+ (VDUSE net devices); older kernels (Debian 12's 6.1 has no vDPA at all) report
 * these tests as not applicable.
 */
@Tag("kernel")
class VdpaKernelTest {
    private static final AtomicInteger SEQ = new AtomicInteger();
    private static final int QUEUE = 64;

    @BeforeEach
    void vduse() {
        KernelDevices.applicableOnlyIf(KernelDevices.kernelAtLeast(6, 10), "VDUSE net devices need Linux 6.10+");
        KernelDevices.require(VduseControl.PATH);
    }


    private static String name() {
        return "v4j-net" + ProcessHandle.current().pid() % 1000 + "-" + SEQ.incrementAndGet();
    }

    private static NetDriver.Config config() {
        return new NetDriver.Config(QUEUE, false, false, 2048, DmaWindow.PHYSICAL, false, false);
    }

    private static MemorySegment frame(Arena arena, int seq) {
        return Frames.fill(arena.allocate(Frames.sizeOf(seq)), seq, false);
    }

    private static VhostException vhostFailure(org.junit.jupiter.api.function.Executable call) {
        return assertThrows(VhostException.class, call);
    }

    @Test
    void theDeviceDescribesItselfThroughEveryVdpaQuery() throws Exception {
        try (VdpaNetLoopback loop = VdpaNetLoopback.create(name(), QUEUE)) {
            VhostVdpa v = loop.vdpa();
            assertEquals(Errno.EPERM, vhostFailure(() -> v.getVringSize(0)).errno(), "queue calls need the owner");
            v.setOwner();
            assertEquals(1, v.getDeviceId(), "virtio-net");
            assertEquals(2, v.getVqsCount());
            assertEquals(2, v.queueCount());
            assertEquals(10, v.getConfigSize());
            byte[] config = v.getConfig(0, 10);
            assertArrayEquals(VduseNetDevice.MAC, Arrays.copyOf(config, 6), "the MAC the device was created with");
            assertEquals(1, config[8], "max_virtqueue_pairs");
            assertArrayEquals(Arrays.copyOfRange(config, 6, 10), v.getConfig(6, 4), "a slice of the same space");
            assertEquals(QUEUE, v.getVringNum(), "the largest queue size = VDUSE_VQ_SETUP's");
            assertEquals(QUEUE, v.getVringSize(0));
            assertEquals(1, v.getGroupNum());
            assertEquals(1, v.getAsNum());
            assertTrue(v.getFeatures().has(VirtioFeature.VERSION_1));
            assertTrue(v.getFeatures().has(VirtioFeature.ACCESS_PLATFORM));
            BackendFeatures backend = v.getBackendFeatures();
            assertTrue(backend.has(BackendFeature.IOTLB_MSG_V2) && backend.has(BackendFeature.IOTLB_BATCH)
                    && backend.has(BackendFeature.IOTLB_ASID), backend.toString());
            assertFalse(backend.has(BackendFeature.SUSPEND), "VDUSE cannot suspend: " + backend);
            v.suspend(); // before DRIVER_OK there is nothing to suspend: the kernel says yes to any device
            v.resume();
            assertEquals(Errno.EOPNOTSUPP, vhostFailure(() -> v.getVringDescGroup(0)).errno());
            IovaRange range = v.getIovaRange();
            assertTrue(Long.compareUnsigned(range.first(), range.last()) < 0, range.toString());
            // A vring group: VDUSE answers it only where it has the op (API v1 kernels: group 0 for API v0 devices);
            // elsewhere vhost-vdpa says EOPNOTSUPP. Either way one group, number 0, or exactly that errno.
            String group;
            try {
                assertEquals(0, v.getVringGroup(1));
                group = "0";
            } catch (VhostException e) {
                assertEquals(Errno.EOPNOTSUPP, e.errno(), e.getMessage());
                group = "EOPNOTSUPP";
            }
            assertThrows(IllegalArgumentException.class, () -> v.setGroupAsid(-1, 0));
            // vhost-vdpa has no VHOST_GET_FEATURES_ARRAY on 6.12 and 7.3: its queue ioctls refuse it
            assertEquals(java.util.Optional.empty(), v.getFeaturesArray());
            System.out.println("vdpa over VDUSE on " + System.getProperty("os.version") + ": IOVA range " + range
                    + ", backend features " + backend + ", features " + v.getFeatures() + ", vring group " + group);
            assertThrows(IllegalArgumentException.class, () -> v.getVringSize(2), "queue 2 of 2");
            assertThrows(IllegalArgumentException.class, () -> v.getConfig(8, 4), "past the 10-byte space");
            assertEquals(DeviceStatus.RESET, v.getStatus());
            // vhost-vdpa has no VHOST_RESET_OWNER (the kernel answers EFAULT, reading it as a queue ioctl): refused
            assertThrows(UnsupportedOperationException.class, v::resetOwner);
            assertEquals(Errno.EBUSY, vhostFailure(v::setOwner).errno(), "still owned");
        }
    }

    @Test
    void netlinkListsTheDeviceAndItsManagementDeviceAndRefusesDuplicates() throws Exception {
        String name = name();
        try (VdpaNetLoopback loop = VdpaNetLoopback.create(name, QUEUE)) {
            VdpaDeviceInfo info = loop.management().device(name).orElseThrow();
            assertEquals(new VdpaDeviceInfo(name, "vduse", 1, 0, 2, QUEUE, info.minQueueSize()), info);
            assertTrue(loop.management().devices().contains(info));
            VdpaManagementDevice vduse = loop.management().managementDevices().stream()
                    .filter(m -> m.name().equals("vduse")).findFirst().orElseThrow();
            assertTrue((vduse.supportedClasses() & (1L << 1)) != 0, "vduse makes net devices: " + vduse);
            assertEquals(VdpaBus.VHOST_VDPA, VdpaBus.driverOf(name).orElseThrow());
            assertEquals(loop.node(), VdpaBus.vhostVdpaNode(name).orElseThrow());
            assertEquals(Errno.EEXIST, vhostFailure(() -> loop.management().addDevice(name, "vduse")).errno());
            assertEquals(Errno.ENODEV, vhostFailure(() -> loop.management().deleteDevice(name + "x")).errno());
            VhostException noVduse = vhostFailure(() -> loop.management().addDevice(name + "x", "vduse"));
            assertEquals(Errno.EINVAL, noVduse.errno(), "no VDUSE device of that name");
            assertTrue(noVduse.hint().contains("VduseControl.create"), noVduse.getMessage());
            assertTrue(loop.management().device(name + "x").isEmpty());
            assertEquals(Errno.EBUSY, vhostFailure(() -> VhostVdpa.open(loop.node())).errno(),
                    "vhost-vdpa is opened by one at a time");
        }
        assertFalse(VdpaBus.devices().contains(name), "deleted on close");
    }

    @Test
    void framesLoopThroughTheJavaDeviceByteForByte() throws Exception {
        try (VdpaNetLoopback loop = VdpaNetLoopback.create(name(), QUEUE).start(config(), true);
             Arena arena = Arena.ofConfined()) {
            NetDriver d = loop.driver();
            assertTrue(loop.vdpa().getStatus().has(DeviceStatusBit.DRIVER_OK));
            MemorySegment got = arena.allocate(NetDriver.MAX_FRAME);
            int frames = 300;
            for (int i = 0; i < frames; i++) {
                assertTrue(d.transmit(frame(arena, i), WAIT), "TX slot for frame " + i);
                int n = d.receive(got, WAIT);
                assertEquals(i, Frames.check(got, n, false, "vDPA loopback"), "frame " + i + " back whole");
                d.reclaimTx();
            }
            assertEquals(frames, loop.device().framesLooped());
            assertEquals(List.of(), loop.device().faults());
            assertEquals(Errno.EOPNOTSUPP, vhostFailure(loop.vdpa()::suspend).errno(), "a running VDUSE device");
            assertEquals(Errno.EOPNOTSUPP, vhostFailure(loop.vdpa()::resume).errno());
            assertNull(loop.device().failure());
            // The kernel asks the device (VDUSE_GET_VQ_STATE) for the queue's next index: frames % 65536.
            assertEquals(frames, loop.vdpa().getVringBase(1));
            assertEquals(frames, loop.vdpa().getVringBase(0));
            assertEquals(loop.device().vduse().getDriverFeatures(), loop.vdpa().ackedFeatures().bits(),
                    "what the driver acked is what the device sees");
        }
    }

    @Test
    void oneBatchOfUpdatesReachesTheDeviceAsOneMapAndWithoutBatchingAsOneEach() throws Exception {
        try (VdpaNetLoopback loop = VdpaNetLoopback.create(name(), QUEUE).start(config(), true)) {
            VduseIotlb seen = loop.device().vduse().iotlb();
            threeUpdatesReachTheDevice(loop, true, loop.device()::iotlbChanges, seen::mappings, (iova, n) -> {
                MemorySegment b = MemorySegment.ofArray(new byte[n]);
                seen.read(iova, b);
                return b.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
            }, iova -> VduseDeviceProcess.writeBack(seen, iova));
        }
        // Unbatched, the kernel asks the device for each UPDATE while it holds the VMM process's address-space lock:
        // the device is served by a process of its own, as an in-process one may stall (VduseDevice's Javadoc).
        String name = name();
        try (VduseDeviceProcess device = VduseDeviceProcess.start(name, QUEUE)) {
            try (VdpaNetLoopback loop = VdpaNetLoopback.attach(name).start(config(), false)) {
                threeUpdatesReachTheDevice(loop, false, device::iotlbChanges, device::mappings, device::read,
                        device::canWrite);
            }
        }
    }

    /** The device's side, seen in this process or through {@link VduseDeviceProcess}. */
    private interface DeviceView<T> {
        T get() throws Exception;
    }

    private interface DeviceRead {
        byte[] read(long iova, int n) throws Exception;
    }

    private interface DeviceWrite {
        boolean canWrite(long iova) throws Exception;
    }

    /** Three UPDATEs in one {@code updateIotlb}: one set_map as a batch, one each without; what the device sees. */
    private static void threeUpdatesReachTheDevice(VdpaNetLoopback loop, boolean batch, DeviceView<Long> changes,
                                                   DeviceView<List<VduseIotlb.Mapping>> mappings, DeviceRead read,
                                                   DeviceWrite write) throws Exception {
        VhostVdpa v = loop.vdpa();
        assertEquals(batch, v.ackedBackendFeatures().has(BackendFeature.IOTLB_BATCH));
        long base = loop.window().deviceAddress(VdpaNetLoopback.GPA_BASE) + 0x1000_0000L;
        long user = loop.memory().userAddress(VdpaNetLoopback.GPA_BASE);
        long before = changes.get();
        v.updateIotlb(List.of(IotlbMessage.update(base, PAGE, user, Access.RW),
                IotlbMessage.update(base + 2 * PAGE, PAGE, user + PAGE, Access.RO),
                IotlbMessage.update(base + 4 * PAGE, PAGE, user + 2 * PAGE, Access.RW)));
        assertEquals(batch ? 1 : 3, changes.get() - before,
                batch ? "one set_map for the batch" : "one set_map per update");
        List<VduseIotlb.Mapping> seen = mappings.get();
        assertTrue(seen.contains(new VduseIotlb.Mapping(base, base + PAGE - 1, Access.RW)), seen.toString());
        assertTrue(seen.contains(new VduseIotlb.Mapping(base + 2 * PAGE, base + 3 * PAGE - 1, Access.RO)));
        assertTrue(seen.contains(new VduseIotlb.Mapping(base + 4 * PAGE, base + 5 * PAGE - 1, Access.RW)));
        // The device reads the driver's bytes at the new IOVAs: the same memory as its first page.
        MemorySegment mine = loop.memory().slice(VdpaNetLoopback.GPA_BASE + PAGE, 8);
        mine.fill((byte) 0x5a);
        assertArrayEquals(mine.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), read.read(base + 2 * PAGE, 8));
        assertFalse(write.canWrite(base + 2 * PAGE), "an RO mapping is not writable by the device");
        assertTrue(write.canWrite(base + 4 * PAGE), "an RW one is");
    }

    @Test
    void anInvalidateTakesAccessAwayAndAnUpdateGivesItBack() throws Exception {
        try (VdpaNetLoopback loop = VdpaNetLoopback.create(name(), QUEUE).start(config(), true);
             Arena arena = Arena.ofConfined()) {
            NetDriver d = loop.driver();
            MemorySegment got = arena.allocate(NetDriver.MAX_FRAME);
            assertTrue(d.transmit(frame(arena, 0), WAIT));
            assertEquals(0, Frames.check(got, d.receive(got, WAIT), false, "before"));
            d.reclaimTx();
            // The kernel drops every mapping an INVALIDATE overlaps, so take away the whole TX buffer mapping.
            DmaRange txArea = d.txBuffers();
            long iova = txArea.deviceAddress();
            loop.vdpa().unmap(iova + PAGE, PAGE);
            VduseIotlb seen = loop.device().vduse().iotlb();
            assertFalse(seen.isMapped(iova, txArea.size(), Access.RO), "gone from the device");
            assertTrue(seen.isMapped(d.rings().deviceAddress(), d.rings().size(), Access.RW), "the rings stay");
            assertTrue(d.transmit(frame(arena, 1), WAIT));
            assertEquals(-1, d.receive(got, Duration.ofMillis(500)), "nothing crosses an unmapped buffer");
            IovaFaultException fault = loop.device().faults().getLast();
            assertTrue(fault.iova() >= iova && fault.iova() < iova + txArea.size(), fault.getMessage());
            assertEquals(Access.RO, fault.access(), "the device was reading the frame");
            assertEquals(1, loop.device().framesLooped());
            loop.vdpa().map(iova, txArea.size(), loop.memory().userAddress(txArea.guestPhysAddress()), Access.RW);
            d.txQueue().forceKick(); // the device retries on a kick, like hardware after a fault
            assertEquals(1, Frames.check(got, d.receive(got, WAIT), false, "after the page came back"));
            assertEquals(2, loop.device().framesLooped());
        }
    }

    @Test
    void badRangesAsidsAndStatusTransitionsGetExactErrors() throws Exception {
        try (VdpaNetLoopback loop = VdpaNetLoopback.create(name(), QUEUE).start(config(), true)) {
            VhostVdpa v = loop.vdpa();
            long user = loop.memory().userAddress(VdpaNetLoopback.GPA_BASE);
            IovaRange range = v.getIovaRange();
            // Outside the range (or wrapping at 2^64 when the range is everything): refused before the kernel.
            long outside = range.last() == -1L ? -PAGE : range.last() + 1;
            long changes = loop.device().iotlbChanges();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> v.map(outside, 2 * PAGE, user, Access.RW));
            assertTrue(e.getMessage().contains("IOVA range") || e.getMessage().contains("overflows"), e.getMessage());
            if (Long.compareUnsigned(range.first(), 0) > 0) {
                assertThrows(IllegalArgumentException.class, () -> v.map(0, PAGE, user, Access.RW));
            }
            assertEquals(changes, loop.device().iotlbChanges(), "nothing reached the device");
            // An address space without IOTLB_ASID: the kernel would ignore it, so Java refuses it.
            assertThrows(IllegalArgumentException.class, () -> v.updateIotlb(List.of(
                    IotlbMessage.update(range.first() + PAGE, PAGE, user, Access.RW).withAsid(1))));
            // A bit cleared without a reset: EINVAL, and the status stays.
            DeviceStatus ok = v.getStatus();
            assertTrue(ok.has(DeviceStatusBit.DRIVER_OK), ok.toString());
            VhostException bad = vhostFailure(() -> v.setStatus(DeviceStatus.of(DeviceStatusBit.ACKNOWLEDGE)));
            assertEquals(Errno.EINVAL, bad.errno());
            assertTrue(bad.getMessage().contains("VHOST_VDPA_SET_STATUS"), bad.getMessage());
            assertEquals(ok, v.getStatus());
            // Features are fixed once FEATURES_OK is set.
            assertEquals(Errno.EBUSY, vhostFailure(() -> v.setFeaturesDiscardingIotlb(v.ackedFeatures())).errno());
            // A reset reaches the device, which then forgets its queues.
            v.setStatus(DeviceStatus.RESET);
            assertEquals(DeviceStatus.RESET, v.getStatus());
            assertEquals(DeviceStatus.RESET, loop.device().statuses().getLast());
        }
    }

    @Test
    void withIotlbAsidAckedTheKernelJudgesTheAddressSpace() throws Exception {
        try (VdpaNetLoopback loop = VdpaNetLoopback.create(name(), QUEUE)) {
            VhostVdpa v = loop.vdpa();
            v.setOwner();
            // IOTLB_BATCH too: the device is served in this process (VduseDevice's Javadoc).
            v.setBackendFeatures(BackendFeatures.of(BackendFeature.IOTLB_MSG_V2, BackendFeature.IOTLB_BATCH,
                    BackendFeature.IOTLB_ASID));
            long first = (v.getIovaRange().first() + PAGE - 1) & ~(PAGE - 1);
            try (io.vhost4j.testkit.GuestMemory mem = io.vhost4j.testkit.GuestMemory.allocateShared(0, PAGE)) {
                long user = mem.userAddress(0);
                assertThrows(IllegalArgumentException.class,
                        () -> v.updateIotlb(List.of(IotlbMessage.update(first, PAGE, user, Access.RW).withAsid(1))),
                        "asid 1 of a device with one address space: refused in Java");
                VhostException raw = vhostFailure(() -> v.writeIotlb(
                        IotlbMessage.update(first, PAGE, user, Access.RW).withAsid(1)));
                // vhost_vdpa refuses the address space with EINVAL, which vhost's write path reports as EFAULT.
                assertEquals(Errno.EFAULT, raw.errno(), "and by the kernel, written raw");
                v.updateIotlb(List.of(IotlbMessage.update(first, PAGE, user, Access.RW)));
                assertTrue(loop.device().vduse().iotlb().isMapped(first, PAGE, Access.RW), "asid 0 maps");
            }
        }
    }

    @Test
    void aConfigChangeOnTheDeviceSideReachesTheVmmThroughItsConfigEventfd() throws Exception {
        try (VdpaNetLoopback loop = VdpaNetLoopback.create(name(), QUEUE).start(config(), true);
             io.vhost4j.EventFd changed = io.vhost4j.EventFd.create()) {
            VhostVdpa v = loop.vdpa();
            v.setConfigCall(changed);
            byte[] mac = {0x52, 0x54, 0x00, 0x65, 0x43, 0x21};
            loop.device().vduse().setConfig(0, mac);
            assertArrayEquals(mac, v.getConfig(0, 6), "the new MAC, read through vhost-vdpa");
            assertEquals(0, changed.drain(), "no interrupt yet");
            loop.device().vduse().injectConfigIrq();
            assertTrue(changed.await(WAIT) > 0, "VDUSE_DEV_INJECT_CONFIG_IRQ signals the config eventfd");
            v.setConfig(0, new byte[] {1, 2, 3, 4, 5, 6}); // VDUSE's config space is read-only to the driver
            assertArrayEquals(mac, v.getConfig(0, 6), "accepted and ignored");
            v.setConfigCall(null);
            assertThrows(IllegalArgumentException.class, () -> loop.device().vduse().setConfig(8, new byte[4]));
        }
    }

    @Test
    void theVduseControlFileRefusesWhatTheKernelRefuses() throws Exception {
        String name = name();
        try (VduseControl control = VduseControl.open()) {
            assertEquals(VduseControl.API_VERSION, control.getApiVersion(), "pinned to the bindings' version at open");
            assertEquals(0, VduseControl.API_VERSION);
            assertEquals(Errno.EINVAL, vhostFailure(() -> control.setApiVersion(99)).errno());
            VhostException none = vhostFailure(() -> control.destroy(name));
            assertEquals(Errno.EINVAL, none.errno(), "no such device");
            assertEquals("no VDUSE device of that name", none.hint());
            assertEquals("name", assertThrows(NullPointerException.class, () -> control.destroy(null)).getMessage());
            try (VduseNetDevice dev = VduseNetDevice.create(control, name, QUEUE)) {
                assertEquals(Errno.EEXIST, vhostFailure(() -> VduseNetDevice.create(control, name, QUEUE)).errno());
                VhostException busy = vhostFailure(() -> control.destroy(name));
                assertEquals(Errno.EBUSY, busy.errno(), "its file is open");
                assertTrue(busy.hint().contains("VduseDevice.close"), busy.hint());
                assertTrue(dev.vduse().isServing());
                try (io.vhost4j.vdpa.VdpaManagement m = io.vhost4j.vdpa.VdpaManagement.open()) {
                    assertTrue(m.device(name).isEmpty(), "not on the vDPA bus until added");
                    assertEquals("name", assertThrows(NullPointerException.class,
                            () -> m.addDevice(null, "vduse")).getMessage());
                    assertEquals("managementDevice", assertThrows(NullPointerException.class,
                            () -> m.addDevice(name, null)).getMessage());
                }
            }
            control.destroy(name);
            assertFalse(java.nio.file.Files.exists(java.nio.file.Path.of("/dev/vduse/" + name)), "its node is gone");
        }
    }

    @Test
    void aDeviceWithoutADriverIsBoundToVhostVdpaAgain() throws Exception {
        try (BoundVduseNet b = BoundVduseNet.create(name(), QUEUE, WAIT)) {
            java.nio.file.Files.writeString(java.nio.file.Path.of("/sys/bus/vdpa/drivers/vhost_vdpa/unbind"), b.name);
            assertTrue(VdpaBus.driverOf(b.name).isEmpty(), "unbound by hand");
            assertTrue(VdpaBus.vhostVdpaNode(b.name).isEmpty(), "and its vhost-vdpa node went with it");
            String again = VdpaBus.bindToVhostVdpa(b.name, WAIT);
            assertEquals(VdpaBus.VHOST_VDPA, VdpaBus.driverOf(b.name).orElseThrow());
            assertTrue(again.startsWith("/dev/vhost-vdpa-"), again + " (was " + b.node + ")");
            try (VhostVdpa v = VhostVdpa.open(again)) {
                v.setOwner();
                assertEquals(QUEUE, v.getVringSize(0), "the same device behind the new node");
            }
        }
    }

    @Test
    void aVhostVdpaDescriptorPassedByTheHelperIsAdoptedAfterItsCheck() throws Exception {
        java.nio.file.Path socket = java.nio.file.Files.createTempDirectory("vdpafds").resolve("vmm.sock");
        try (BoundVduseNet b = BoundVduseNet.create(name(), QUEUE, WAIT)) {
            java.util.concurrent.CompletableFuture<io.vhost4j.FdPassing.Received> got =
                    java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                        try {
                            return io.vhost4j.FdPassing.receive(socket, Duration.ofSeconds(60));
                        } catch (Exception e) {
                            throw new IllegalStateException(e);
                        }
                    });
            Cli.Result r = Cli.run("pass-fds", "--to", socket.toString(), "--pairs", "1", "--tap", "vdf%d",
                    "--vdpa", b.node);
            assertEquals(0, r.code(), r.out() + r.err());
            try (io.vhost4j.FdPassing.Received fds = got.get(60, java.util.concurrent.TimeUnit.SECONDS)) {
                assertEquals(List.of("vhost-net.0", "tap.0", "vhost-vdpa.0"), fds.names());
                assertThrows(IllegalArgumentException.class, () -> fds.vhostVdpa("vhost-net.0"),
                        "a vhost-net descriptor is not taken for a vhost-vdpa one");
                try (VhostVdpa v = fds.vhostVdpa("vhost-vdpa.0")) {
                    assertEquals(b.node, v.path());
                    assertEquals(2, v.queueCount());
                    v.setOwner();
                    assertEquals(QUEUE, v.getVringSize(1), "the device behind the passed descriptor");
                }
            }
        }
    }

    @Test
    void aPackedQueueCarriesBothPositionsAndWrapCountersBetweenVhostVdpaAndTheDevice() throws Exception {
        String name = name();
        PackedVringBase deviceSide = new PackedVringBase(9, false, 7, true);
        try (VduseControl control = VduseControl.open()) {
            VduseDevice dev = control.create(VduseConfig.net(name, VduseNetDevice.MAC, QUEUE,
                    VirtioFeature.RING_PACKED));
            try (VdpaManagement management = VdpaManagement.open()) {
                dev.setupQueue(0, QUEUE);
                dev.setupQueue(1, QUEUE);
                dev.start(new VduseHandler() {
                    @Override
                    public boolean setStatus(DeviceStatus status) {
                        return true;
                    }

                    @Override
                    public int queueAvailIndex(int index) {
                        throw new AssertionError("a split queue's index asked of a packed device");
                    }

                    @Override
                    public PackedVringBase packedQueueBase(int index) {
                        return deviceSide;
                    }
                });
                management.addDevice(name, "vduse");
                try (VhostVdpa v = VhostVdpa.open(VdpaBus.bindToVhostVdpa(name, WAIT))) {
                    v.setOwner();
                    assertThrows(IllegalStateException.class, () -> v.setPackedVringBase(0, deviceSide),
                            "RING_PACKED not acked yet");
                    v.setFeatures(Features.of(DeviceKind.NET, VirtioFeature.VERSION_1, VirtioFeature.ACCESS_PLATFORM,
                            VirtioFeature.RING_PACKED));
                    assertTrue((dev.getDriverFeatures() & VirtioFeature.RING_PACKED.mask()) != 0);
                    assertThrows(IllegalStateException.class, () -> v.setVringBase(0, 5), "a split queue's call");
                    assertThrows(IllegalStateException.class, () -> v.getVringBase(0), "a split queue's call");
                    // Both halves reach the device: the used position and both wrap counters too.
                    PackedVringBase set = new PackedVringBase(5, true, 3, false);
                    v.setPackedVringBase(1, set);
                    assertEquals(set, dev.queueInfo(1).packed());
                    assertEquals(5, dev.queueInfo(1).availIndex());
                    PackedVringBase high = new PackedVringBase(PackedVringBase.MAX_INDEX, false, 0x4321, true);
                    v.setPackedVringBase(0, high);
                    assertEquals(high, dev.queueInfo(0).packed());
                    // And the device's answer comes back whole (the kernel asks it: VDUSE_GET_VQ_STATE).
                    assertEquals(deviceSide, v.getPackedVringBase(0));
                    assertEquals(deviceSide, v.getPackedVringBase(1));
                } finally {
                    management.deleteDevice(name);
                }
            } finally {
                dev.close();
                control.destroy(name);
            }
        }
    }
}
