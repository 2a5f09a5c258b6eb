package io.vhost4j;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad input is rejected in Java before any kernel call. Devices here are made over {@code /dev/null} (past the
 * device-number check of {@code open}, which refuses it): if a check were missing, the ioctl would reach /dev/null
 * and fail with ENOTTY instead of the expected IllegalArgumentException.
 */
public class ValidationTest {

    private static io.vhost4j.internal.sys.Fd devNull() throws VhostException {
        return io.vhost4j.internal.sys.Fd.open("/dev/null", io.vhost4j.internal.gen.VhostH.O_RDWR());
    }

    static VhostNet nullNet() throws VhostException {
        return new VhostNet(devNull());
    }

    static VhostVsock nullVsock() throws VhostException {
        return new VhostVsock(devNull());
    }

    /** A generic device over /dev/null, past the check of {@link VhostDevice#open(String)} (for other packages' tests). */
    public static VhostDevice nullGeneric() throws VhostException {
        return new VhostDevice(devNull(), DeviceKind.GENERIC);
    }

    @Test
    void openRefusesAFileThatIsNotTheDeviceItsClassIsForAndClosesIt() throws Exception {
        long before = openFds();
        rejected("/dev/null (device 1:3) is not a /dev/vhost-net device (10:238)", () -> VhostNet.open("/dev/null"));
        rejected("/dev/null (device 1:3) is not a /dev/vhost-vsock device (10:241)", () -> VhostVsock.open("/dev/null"));
        assertEquals(before, openFds(), "the refused descriptors are closed");
    }

    /**
     * A device of a kind without a class has no number to check, but it must be a vhost device: IOTLB messages are
     * written to it, and written to a regular file (or a disk) they would overwrite its first bytes.
     */
    @Test
    void openOfAGenericDeviceRefusesAnythingButAVhostDeviceAndWritesNothing(@org.junit.jupiter.api.io.TempDir
                                                                           java.nio.file.Path dir) throws Exception {
        java.nio.file.Path file = java.nio.file.Files.write(dir.resolve("data"), new byte[] {1, 2, 3, 4});
        long before = openFds();
        rejected(file + " is not a character device", () -> VhostDevice.open(file.toString()));
        rejected("/dev/null does not answer VHOST_GET_FEATURES (ENOTTY): not a vhost device",
                () -> VhostDevice.open("/dev/null"));
        rejected("/dev/null (device 1:3 = null) is not a vhost-vdpa device", () -> VhostVdpa.open("/dev/null"));
        rejected(file + " is not a character device", () -> VhostVdpa.open(file.toString()));
        assertEquals(before, openFds(), "the refused descriptors are closed");
        assertEquals(List.of((byte) 1, (byte) 2, (byte) 3, (byte) 4),
                java.util.stream.IntStream.range(0, 4).mapToObj(i -> {
                    try {
                        return java.nio.file.Files.readAllBytes(file)[i];
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                }).toList());
        assertEquals(4, java.nio.file.Files.size(file));
        assertThrows(NullPointerException.class, () -> VhostDevice.open(null));
        rejected("empty path", () -> VhostDevice.open(""));
        rejected("NUL character", () -> VhostNet.open("/dev/vhost-net\0x"));
    }

    @Test
    void nullArgumentsAreNamedBeforeAnyCall() throws Exception {
        try (VhostDevice d = nullGeneric()) {
            assertNamed("endian", () -> d.setVringEndian(0, null));
            assertNamed("table", () -> d.setMemTable(null));
            assertNamed("features", () -> d.setFeatures(null));
            assertNamed("features", () -> d.setFeaturesDiscardingIotlb(null));
            assertNamed("features", () -> d.setBackendFeatures(null));
            assertNamed("addr", () -> d.setVringAddr(null));
            assertNamed("message", () -> d.writeIotlb(null));
            rejected("log base 0xffffffffffffffff is not a user address", () -> d.setLogBase(-1));
        }
        assertNamed("bit", () -> DeviceStatus.RESET.has(null));
        assertNamed("a null status bit", () -> DeviceStatus.of(DeviceStatusBit.ACKNOWLEDGE, null));
        assertNamed("bits", () -> DeviceStatus.of((DeviceStatusBit[]) null));
        assertNamed("a null backend feature", () -> BackendFeatures.of(BackendFeature.IOTLB_MSG_V2, null));
        assertNamed("features", () -> BackendFeatures.of((BackendFeature[]) null));
        assertNamed("feature", () -> new BackendFeatures(0).has(null));
    }

    private static void assertNamed(String name, org.junit.jupiter.api.function.Executable call) {
        NullPointerException e = assertThrows(NullPointerException.class, call);
        assertEquals(name, e.getMessage());
    }

    private static long openFds() throws java.io.IOException {
        try (var fds = java.nio.file.Files.list(java.nio.file.Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    private static void rejected(String expected, org.junit.jupiter.api.function.Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    @Test
    void vringIndexOutOfRange() throws Exception {
        try (VhostNet net = nullNet()) {
            rejected("vring index 2 out of range for /dev/null (0..1)", () -> net.setVringNum(2, 256));
            rejected("vring index -1", () -> net.getVringBase(-1));
            rejected("vring index 2", () -> net.setVringKick(2, null));
            rejected("vring index 5", () -> net.setVringAddr(VringAddr.ofUser(5, 0, 0, 0)));
            VhostException e = assertThrows(VhostException.class, () -> net.setVringNum(1, 256));
            assertEquals("ENOTTY", e.errnoName()); // a valid call does reach the "device"
            NullPointerException noBackend = assertThrows(NullPointerException.class, () -> net.setBackend(0, null));
            assertTrue(noBackend.getMessage().contains("removeBackend"), noBackend.getMessage());
        }
        try (VhostVsock vsock = nullVsock()) {
            rejected("vring index 2", () -> vsock.setVringBase(2, 0));
        }
    }

    @Test
    void queueSizeMustBeAPowerOfTwoUpTo32768() throws Exception {
        try (VhostNet net = nullNet()) {
            for (int bad : new int[] {0, -1, 3, 100, 65536, 1 << 20}) {
                rejected("queue size " + bad, () -> net.setVringNum(0, bad));
            }
            rejected("vring base 65536", () -> net.setVringBase(0, 65536));
            rejected("busy-loop timeout", () -> net.setVringBusyloopTimeout(0, -5));
        }
    }

    @Test
    void ringAlignment() {
        rejected("descriptor table address 0x1008 is not 16-byte aligned", () -> VringAddr.ofUser(0, 0x1008, 0, 0));
        rejected("available ring address 0x1 is not 2-byte aligned", () -> VringAddr.ofUser(0, 0, 1, 0));
        rejected("used ring address 0x2 is not 4-byte aligned", () -> VringAddr.ofIova(0, 0, 0, 2));
        rejected("kernel's half", () -> VringAddr.ofUser(0, 0xffff_8000_0000_0000L, 0x1000, 0x2000));
        rejected("kernel's half", () -> VringAddr.ofUser(0, 0x1000, 0x2000, -4096));
        assertEquals(-4096, VringAddr.ofIova(0, 0x1000, 0x2000, -4096).used()); // an IOVA may be anywhere
        VringAddr ok = VringAddr.ofIova(1, 0x1000, 0x2002, 0x3004);
        assertEquals(AddressKind.IOVA, ok.kind());
        assertTrue(ok.toString().contains("desc=0x1000"), ok.toString());
    }

    @Test
    void packedRingBasesCarryBothPositionsAndWrapCountersInTheKernelsLayout() throws Exception {
        assertEquals(0x8000_8000, PackedVringBase.initial().bits());
        PackedVringBase b = new PackedVringBase(5, true, 0x7fff, false);
        assertEquals(0x7fff_8005, b.bits());
        assertEquals(b, PackedVringBase.fromBits(b.bits()));
        assertEquals(new PackedVringBase(0x1234, false, 0x321, true), PackedVringBase.fromBits(0x8321_1234));
        rejected("0..32767", () -> new PackedVringBase(0x8000, false, 0, false));
        rejected("0..32767", () -> new PackedVringBase(0, false, -1, false));
        try (VhostNet net = nullNet()) {
            assertThrows(IllegalStateException.class, () -> net.setPackedVringBase(0, b), "RING_PACKED not acked");
            assertThrows(IllegalStateException.class, () -> net.getPackedVringBase(0));
            assertNamed("base", () -> net.setPackedVringBase(0, null));
        }
    }

    @Test
    void memoryRegionsAndTables() {
        rejected("size must be > 0", () -> new MemoryRegion(0, 0, 0x1000));
        rejected("overflows 64 bits", () -> new MemoryRegion(-4096, 8192, 0x1000));
        rejected("overflows 64 bits", () -> new MemoryRegion(0, 8192, -4096));
        new MemoryRegion(-4096, 4096, 0x1000); // ends exactly at 2^64 - 1
        rejected("kernel's half", () -> new MemoryRegion(0, 0x1000, 0xffff_8000_0000_0000L));
        rejected("kernel's half", () -> new MemoryRegion(0, 0x2000, Long.MAX_VALUE - 0xfff)); // ends past 2^63
        new MemoryRegion(0, 0x1000, Long.MAX_VALUE - 0xfff); // ends exactly at 2^63 - 1
        rejected("memory regions overlap", () -> MemoryTable.of(new MemoryRegion(0x10000, 0x2000, 0),
                new MemoryRegion(0x11000, 0x1000, 0x100000)));
        MemoryTable.of(new MemoryRegion(0x10000, 0x1000, 0), new MemoryRegion(0x11000, 0x1000, 0x100000));
        List<MemoryRegion> many = IntStream.range(0, 65).mapToObj(i -> new MemoryRegion(i * 0x1000L, 0x1000, 0))
                .toList();
        rejected("at most 64 regions, got 65", () -> new MemoryTable(many));
        assertEquals(64, new MemoryTable(many.subList(0, 64)).regions().size());
        assertEquals("memory region 1 is null", assertThrows(NullPointerException.class,
                () -> new MemoryTable(java.util.Arrays.asList(many.get(0), null))).getMessage());
        assertEquals("regions", assertThrows(NullPointerException.class, () -> new MemoryTable(null)).getMessage());
    }

    @Test
    void guestCidRange() throws Exception {
        try (VhostVsock vsock = nullVsock()) {
            rejected("guest CID 2 out of range", () -> vsock.setGuestCid(2));
            rejected("guest CID 4294967295", () -> vsock.setGuestCid(0xffff_ffffL));
        }
    }

    @Test
    void tapNamesAndEtherTypes() {
        rejected("interface name", () -> Tap.create(""));
        rejected("interface name", () -> Tap.create("a-name-that-is-too-long"));
        rejected("interface name", () -> Tap.create("bad/name"));
        rejected("interface name", () -> Tap.attach("", TapOptions.defaults()));
        rejected("queues", () -> Tap.createMultiQueue("vq%d", 0, TapOptions.defaults()));
        rejected("queues", () -> Tap.createMultiQueue("vq%d", Tap.MAX_QUEUES + 1, TapOptions.defaults()));
        rejected("not a file descriptor", () -> Tap.adopt(-1));
        assertEquals("interface name", assertThrows(NullPointerException.class, () -> Tap.create(null)).getMessage());
        for (String bad : new String[] {".", "..", "a:b", "tab\tname"}) { // the kernel's dev_valid_name refuses them
            rejected("interface name", () -> Tap.create(bad));
            rejected("interface name", () -> Tap.attach(bad, TapOptions.defaults()));
        }
        rejected("the kernel numbers one %d", () -> Tap.create("vq%d%d"));
        rejected("the kernel numbers one %d", () -> Tap.create("vq%s"));
        rejected("the kernel numbers one %d", () -> Tap.createMultiQueue("vq%", 2, TapOptions.defaults()));
        assertEquals("options", assertThrows(NullPointerException.class, () -> Tap.create("vq%d", null)).getMessage());
        assertEquals("options", assertThrows(NullPointerException.class,
                () -> Tap.attach("lo", null)).getMessage());
    }

    /** An interface that exists but is not what the call opens is named as such, not as missing. */
    @Test
    void anInterfaceOfAnotherKindIsNotReportedMissing() {
        VhostException tap = assertThrows(VhostException.class, () -> Tap.attach("lo", TapOptions.defaults()));
        assertTrue(tap.getMessage().contains("lo (an interface, but not a tap)"), tap.getMessage());
        VhostException vtap = assertThrows(VhostException.class, () -> Tap.openMacvtap("lo", TapOptions.defaults()));
        assertTrue(vtap.getMessage().contains("lo (an interface, but not a macvtap or ipvtap)"), vtap.getMessage());
        assertEquals(Errno.ENODEV, vtap.errno());
        VhostException missing = assertThrows(VhostException.class,
                () -> Tap.attach("vhost4jnone", TapOptions.defaults()));
        assertTrue(missing.getMessage().contains("(no such interface)"), missing.getMessage());
    }

    @Test
    void tapOptionsFollowTheKernelsRulesBeforeAnyCall() {
        assertEquals("offloads", assertThrows(NullPointerException.class, () -> new TapOptions(12, null, 0, false))
                .getMessage());
        assertEquals("a null offload", assertThrows(NullPointerException.class,
                () -> TapOptions.defaults().withOffloads(TapOffload.CSUM, null)).getMessage());
        rejected("vnet header size 8", () -> TapOptions.defaults().withVnetHeaderSize(8));
        rejected("need CSUM", () -> TapOptions.defaults().withOffloads(TapOffload.TSO4));
        rejected("TSO_ECN needs TSO4 or TSO6", () -> TapOptions.defaults().withOffloads(TapOffload.CSUM,
                TapOffload.TSO_ECN));
        rejected("USO4 and USO6 go together", () -> TapOptions.defaults().withOffloads(TapOffload.CSUM,
                TapOffload.USO4));
        rejected("send buffer -1", () -> TapOptions.defaults().withSendBuffer(-1));
        TapOptions ok = TapOptions.defaults().withOffloads(TapOffload.CSUM, TapOffload.TSO4, TapOffload.TSO6)
                .withVnetHeaderSize(10).withSendBuffer(1 << 20).withPersistent(true);
        assertEquals(java.util.Set.of(TapOffload.CSUM, TapOffload.TSO4, TapOffload.TSO6), ok.offloads());
        assertEquals(0x01 | 0x02 | 0x04, TapOffload.bits(ok.offloads()));
        assertEquals(0x60, TapOffload.bits(java.util.Set.of(TapOffload.USO4, TapOffload.USO6)));
    }

    @Test
    void aDescriptorThatIsNotATapIsRefused() throws Exception {
        try (EventFd e = EventFd.create()) {
            IllegalArgumentException x = assertThrows(IllegalArgumentException.class, () -> Tap.adopt(e.fd()));
            assertTrue(x.getMessage().contains("is not a tap"), x.getMessage());
        }
    }

    @Test
    void openErrorsNameTheErrnoTheOperationAndTheDevice() {
        VhostException e = assertThrows(DeviceUnavailableException.class, () -> VhostNet.open("/dev/vhost-missing"));
        assertEquals(Errno.ENOENT, e.errno());
        assertEquals("ENOENT", e.errnoName());
        assertEquals(2, e.errnoValue());
        assertEquals("open", e.operation());
        assertEquals("/dev/vhost-missing", e.device());
        assertTrue(e.getMessage().startsWith("open on /dev/vhost-missing failed: ENOENT (No such file or directory)"),
                e.getMessage());
        assertTrue(e.hint().contains("vhost_net module is not loaded"), e.hint());
        assertFalse(e.getMessage().contains("ci/"), "the library knows nothing of this project's scripts: " + e);
    }

    @Test
    void heapSegmentsGetAClearIllegalArgumentNeverAnAssertionError() throws Exception {
        try (EventFd e = EventFd.create()) {
            java.lang.foreign.MemorySegment heap = java.lang.foreign.MemorySegment.ofArray(new byte[8]);
            IllegalArgumentException x = assertThrows(IllegalArgumentException.class, () -> e.handle().write(heap, 8));
            assertTrue(x.getMessage().contains("heap segment"), x.getMessage());
            assertThrows(IllegalArgumentException.class, () -> e.handle().read(heap, 8));
        }
    }

    @Test
    void errnoValuesMapBothWaysAndUnknownOnesAreOther() {
        for (Errno e : Errno.values()) {
            if (e != Errno.OTHER) {
                assertEquals(e, Errno.of(e.value()));
            }
        }
        assertEquals(Errno.OTHER, Errno.of(4095));
        assertEquals(14, Errno.EFAULT.value());
    }

    @Test
    void permissionFailuresAreTypedAndTheirHintFitsTheOperation() throws Exception {
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("vhost4j-perm");
        java.nio.file.Path node = java.nio.file.Files.createFile(dir.resolve("vhost-locked"));
        try {
            java.nio.file.Files.setPosixFilePermissions(node, java.util.Set.of());
            org.junit.jupiter.api.Assumptions.assumeFalse(java.nio.file.Files.isReadable(node),
                    "root reads a file without permissions (CAP_DAC_OVERRIDE): no EACCES to provoke");
            VhostException e = assertThrows(PermissionDeniedException.class, () -> VhostDevice.open(node.toString()));
            assertEquals(Errno.EACCES, e.errno());
            assertTrue(e.hint().contains("read/write access"), e.hint());
        } finally {
            java.nio.file.Files.delete(node);
            java.nio.file.Files.delete(dir);
        }
    }

    @Test
    void anEpermFromAVhostIoctlMeansNoOwnerNotNoPrivilege() {
        VhostException noOwner = io.vhost4j.internal.sys.Errors.failure(Errno.EPERM.value(), "VHOST_SET_VRING_NUM",
                "/dev/vhost-net");
        assertEquals(VhostException.class, noOwner.getClass(), "not a permission problem");
        assertTrue(noOwner.hint().contains("setOwner()"), noOwner.hint());
        assertFalse(noOwner.hint().contains("root"), noOwner.hint());
        VhostException tap = io.vhost4j.internal.sys.Errors.failure(Errno.EPERM.value(), "TUNSETIFF", "/dev/net/tun");
        assertTrue(tap instanceof PermissionDeniedException, tap.toString());
        assertTrue(tap.hint().contains("CAP_NET_ADMIN"), tap.hint());
    }

    @Test
    void aConnectThatFoundNoReceiverSaysToStartItFirst() {
        for (Errno e : new Errno[] {Errno.ENOENT, Errno.ECONNREFUSED}) {
            VhostException x = io.vhost4j.internal.sys.Errors.failure(e.value(), "connect", "/run/vmm.sock");
            assertTrue(x.hint().contains("FdPassing.receive"), x.hint());
        }
    }

    @Test
    void anOwnedDeviceSaysHowToDropItsOwnerForItsKind() {
        VhostException net = io.vhost4j.internal.sys.Errors.failure(Errno.EBUSY.value(), "VHOST_SET_OWNER",
                "/dev/vhost-net");
        assertTrue(net.hint().contains("VHOST_RESET_OWNER first"), net.hint());
        VhostException vsock = io.vhost4j.internal.sys.Errors.failure(Errno.EBUSY.value(), "VHOST_SET_OWNER",
                "/dev/vhost-vsock");
        assertTrue(vsock.hint().contains("open the device again"), vsock.hint());
        VhostException reset = io.vhost4j.internal.sys.Errors.failure(Errno.EFAULT.value(), "VHOST_RESET_OWNER",
                "/dev/vhost-vdpa-0");
        assertTrue(reset.hint().contains("only vhost-net"), reset.hint());
    }

    @Test
    void anEnomemFromCreatingTheWorkerNamesTheTaskLimitsItMayMean() {
        for (String op : new String[] {"VHOST_SET_OWNER", "VHOST_NEW_WORKER"}) {
            VhostException e = io.vhost4j.internal.sys.Errors.failure(Errno.ENOMEM.value(), op, "/dev/vhost-net");
            assertTrue(e.hint().contains("pids.max") && e.hint().contains("RLIMIT_NPROC"), e.hint());
        }
        VhostException other = io.vhost4j.internal.sys.Errors.failure(Errno.ENOMEM.value(), "VHOST_SET_MEM_TABLE",
                "/dev/vhost-net");
        assertEquals(null, other.hint(), "no hint where the kernel means memory");
    }

    @Test
    void useAfterCloseIsIllegalState() throws Exception {
        VhostNet net = nullNet();
        net.close();
        net.close();
        assertThrows(IllegalStateException.class, () -> net.setVringNum(0, 256));
        assertThrows(IllegalStateException.class, net::fd);
        EventFd e = EventFd.create();
        e.signal();
        e.signal();
        assertEquals(2, e.drain());
        assertEquals(0, e.drain());
        e.close();
        e.close();
        assertThrows(IllegalStateException.class, e::signal);
    }
    @Test
    void theFeaturesOfAVsockDeviceNeverReachANetDevice() throws Exception {
        try (VhostNet net = nullNet()) {
            rejected("features of a VSOCK device for /dev/null (NET)",
                    () -> net.setFeatures(Features.of(DeviceKind.VSOCK, VirtioFeature.VERSION_1)));
            VhostException e = assertThrows(VhostException.class,
                    () -> net.setFeatures(new Features(DeviceKind.GENERIC, 1L << 32)));
            assertEquals("ENOTTY", e.errnoName()); // raw bits of a generic set do reach the "device"
        }
        try (VhostVsock vsock = nullVsock()) {
            rejected("features of a NET device", () -> vsock.setFeatures(Features.of(DeviceKind.NET)));
        }
    }

    @Test
    void withoutTheFeaturesArrayCallNothingIsSentAndTheErrorSaysWhatToUse() throws Exception {
        try (VhostNet net = nullNet()) {
            // /dev/null answers ENOTTY, as vhost-net before 6.18 does once it has an owner and few enough words
            assertTrue(net.getFeaturesArray().isEmpty());
            FeatureWords tunnel = FeatureWords.of(Features.of(DeviceKind.NET, VirtioFeature.VERSION_1))
                    .with(FeatureWords.NET_HOST_UDP_TUNNEL_GSO);
            VhostException e = assertThrows(VhostException.class, () -> net.setFeaturesArray(tunnel));
            assertEquals("ENOTTY", e.errnoName());
            assertTrue(e.getMessage().startsWith("VHOST_SET_FEATURES_ARRAY on /dev/null failed: ENOTTY")
                    && e.getMessage().contains("setFeatures acks bits 0-63"), e.getMessage());
            assertEquals(null, net.ackedFeatures(), "nothing acked");
            rejected("features of a VSOCK device for /dev/null (NET)", () -> net.setFeaturesArray(
                    FeatureWords.of(Features.of(DeviceKind.VSOCK, VirtioFeature.VERSION_1))));
            assertNamed("features", () -> net.setFeaturesArray(null));
            net.close();
            assertThrows(IllegalStateException.class, net::getFeaturesArray);
        }
    }
}
