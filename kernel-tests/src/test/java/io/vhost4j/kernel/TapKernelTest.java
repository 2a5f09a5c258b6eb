package io.vhost4j.kernel;

import io.vhost4j.DeviceUnavailableException;
import io.vhost4j.Errno;
import io.vhost4j.Tap;
import io.vhost4j.TapOffload;
import io.vhost4j.TapOptions;
import io.vhost4j.VhostException;
import io.vhost4j.testkit.NetDriver;
import io.vhost4j.testkit.NetLoopback;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static io.vhost4j.kernel.TestValues.BATCH;
import static io.vhost4j.kernel.TestValues.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Taps as VMMs use them, against the real tun driver: options read back, persistence, multi-queue, errors. */
@Tag("kernel")
class TapKernelTest {

    @BeforeEach
    void device() {
        KernelDevices.requireNet();
    }

    private static boolean exists(String name) {
        return Files.exists(Path.of("/sys/class/net", name));
    }

    @Test
    void optionsAreSetAndReadBackFromTheKernel() throws Exception {
        TapOptions o = TapOptions.defaults().withVnetHeaderSize(10).withSendBuffer(1 << 20)
                .withOffloads(TapOffload.CSUM, TapOffload.TSO4, TapOffload.TSO6, TapOffload.TSO_ECN);
        try (Tap tap = Tap.create("vo%d", o)) {
            assertEquals(10, tap.vnetHeaderSize());
            assertEquals(1 << 20, tap.sendBufferSize());
            assertFalse(tap.isPersistent());
            assertFalse(tap.isMultiQueue());
            assertEquals(Integer.decode(Files.readString(Path.of("/sys/class/net", tap.name(), "ifindex")).trim()),
                    tap.ifindex());
            tap.reconfigure(TapOptions.defaults());
            assertEquals(12, tap.vnetHeaderSize());
        }
    }

    @Test
    void usoIsTakenWhereTheKernelHasItAndElseRefusedLeavingNoInterface() throws Exception {
        TapOptions uso = TapOptions.defaults().withOffloads(TapOffload.CSUM, TapOffload.USO4, TapOffload.USO6);
        if (KernelDevices.kernelAtLeast(6, 2)) {
            try (Tap tap = Tap.create("vuso0", uso)) {
                assertTrue(exists(tap.name()));
            }
        } else {
            VhostException e = assertThrows(VhostException.class, () -> Tap.create("vuso0", uso));
            assertEquals(Errno.EINVAL, e.errno());
            assertEquals("TUNSETOFFLOAD", e.operation());
            assertTrue(e.getMessage().contains("USO4/USO6 need Linux 6.2+"), e.getMessage());
        }
        assertFalse(exists("vuso0"), "no interface is left behind");
    }

    @Test
    void aPersistentTapOutlivesItsFileAndIsAttachedAgainByName() throws Exception {
        String name;
        try (Tap tap = Tap.create("vp%d", TapOptions.defaults().withPersistent(true))) {
            name = tap.name();
            assertTrue(tap.isPersistent());
        }
        assertTrue(exists(name), "a persistent tap stays");
        VhostException dup = assertThrows(VhostException.class, () -> Tap.create(name));
        assertEquals(Errno.EEXIST, dup.errno());
        try (Tap again = Tap.attach(name, TapOptions.defaults())) {
            assertEquals(name, again.name());
            assertTrue(again.isPersistent());
            again.setPersistent(false);
        }
        assertFalse(exists(name), "not persistent any more: gone with its last file");
        DeviceUnavailableException missing = assertThrows(DeviceUnavailableException.class,
                () -> Tap.attach(name, TapOptions.defaults()));
        assertEquals(Errno.ENODEV, missing.errno());
    }

    @Test
    void aMultiQueueTapHasOneFilePerQueueAndTakesMoreQueuesByName() throws Exception {
        List<Tap> queues = new ArrayList<>(Tap.createMultiQueue("vq%d", 4, TapOptions.defaults()));
        try {
            String name = queues.get(0).name();
            assertTrue(queues.stream().allMatch(t -> t.name().equals(name) && t.isMultiQueue()));
            assertEquals(4, queues.stream().mapToInt(Tap::fd).distinct().count());
            queues.add(Tap.attach(name, TapOptions.defaults())); // a fifth queue
            assertTrue(queues.get(4).isMultiQueue());
            int flags = Integer.decode(Files.readString(Path.of("/sys/class/net", name, "tun_flags")).trim());
            assertTrue((flags & 0x0100) != 0, "IFF_MULTI_QUEUE in sysfs: 0x" + Integer.toHexString(flags));
        } finally {
            String name = queues.get(0).name();
            queues.forEach(Tap::close);
            assertFalse(exists(name));
        }
    }

    @Test
    void framesPassByteForByteThroughATapWithOffloadsAndASendBufferSet() throws Exception {
        TapOptions o = TapOptions.defaults().withOffloads(TapOffload.CSUM, TapOffload.TSO4, TapOffload.TSO6)
                .withSendBuffer(256 << 10);
        try (NetLoopback l = NetLoopback.open(NetDriver.Config.defaults(), "vo%d", o).start()) {
            l.txRun(0, 64, BATCH, WAIT);
            l.rxRun(1000, 64, BATCH, WAIT);
            assertEquals(12, l.tap().vnetHeaderSize());
            assertEquals(256 << 10, l.tap().sendBufferSize());
        }
    }
}
