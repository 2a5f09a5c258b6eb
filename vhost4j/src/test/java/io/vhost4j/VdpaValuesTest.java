package io.vhost4j;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The vDPA value types, and VhostVdpa's refusal of a file that is not a vDPA device. */
class VdpaValuesTest {

    @Test
    void statusBitsHaveTheVirtioValuesAndOnlyAResetClearsThem() {
        DeviceStatus s = DeviceStatus.of(DeviceStatusBit.ACKNOWLEDGE, DeviceStatusBit.DRIVER);
        assertEquals(3, s.bits());
        assertEquals(0x0b, s.with(DeviceStatusBit.FEATURES_OK).bits());
        assertEquals(0x0f, s.with(DeviceStatusBit.FEATURES_OK, DeviceStatusBit.DRIVER_OK).bits());
        assertEquals(0x40, DeviceStatus.of(DeviceStatusBit.NEEDS_RESET).bits());
        assertEquals(0x80, DeviceStatus.of(DeviceStatusBit.FAILED).bits());
        assertTrue(s.clearsBitsOf(DeviceStatus.of(DeviceStatusBit.ACKNOWLEDGE)));
        assertFalse(s.clearsBitsOf(DeviceStatus.RESET), "a reset clears everything, legally");
        assertFalse(s.clearsBitsOf(s.with(DeviceStatusBit.FEATURES_OK)));
        assertEquals("0x13 [ACKNOWLEDGE, DRIVER, bit 4]", new DeviceStatus(0x13).toString());
        assertThrows(IllegalArgumentException.class, () -> new DeviceStatus(256));
        assertThrows(IllegalArgumentException.class, () -> new DeviceStatus(-1));
    }

    @Test
    void iovaRangesContainOnlyWholeNonWrappingRanges() {
        IovaRange r = new IovaRange(0x1000, 0x1fff);
        assertTrue(r.contains(0x1000, 0x1000));
        assertFalse(r.contains(0x1000, 0x1001), "one byte past last");
        assertFalse(r.contains(0xfff, 2), "one byte before first");
        assertFalse(r.contains(0x1000, 0), "empty");
        assertTrue(IovaRange.ALL.contains(-4096, 4096), "up to 2^64 - 1");
        assertFalse(IovaRange.ALL.contains(-4096, 4097), "wraps");
        assertThrows(IllegalArgumentException.class, () -> new IovaRange(2, 1));
        assertEquals("0x1000..0x1fff", r.toString());
    }

    @Test
    void aFileThatIsNotVdpaIsRefusedAndClosed() throws Exception {
        long before = openFds();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> VhostVdpa.open("/dev/null"));
        assertEquals("/dev/null (device 1:3 = null) is not a vhost-vdpa device", e.getMessage());
        assertEquals(before, openFds(), "no descriptor leaked");
        assertThrows(IllegalArgumentException.class, () -> VhostVdpa.open(-1));
    }

    private static long openFds() throws Exception {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    @Test
    void adoptRefusesAnotherDeviceAndLeavesItsDescriptorToTheCaller() throws Exception {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            int fd = io.vhost4j.internal.sys.Sys.open(arena.allocateFrom("/dev/null"), io.vhost4j.internal.gen.VhostH.O_RDWR(), 0);
            assertTrue(fd >= 0);
            try {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> VhostVdpa.adopt(fd));
                assertTrue(e.getMessage().contains("/dev/null") && e.getMessage().contains("not a vhost-vdpa device"),
                        e.getMessage());
                assertTrue(Files.exists(Path.of("/proc/self/fd/" + fd)), "still open: the caller owns it");
            } finally {
                io.vhost4j.internal.sys.Sys.close(fd);
            }
        }
        assertThrows(IllegalArgumentException.class, () -> VhostVdpa.adopt(-1));
    }

    @Test
    void withoutVduseTheControlFileIsMissingWithTheModuleHint() {
        org.junit.jupiter.api.Assumptions.assumeFalse(Files.exists(Path.of("/dev/vduse/control")), "this host has VDUSE");
        DeviceUnavailableException e = assertThrows(DeviceUnavailableException.class,
                io.vhost4j.vdpa.VduseControl::open);
        assertEquals(Errno.ENOENT, e.errno());
        assertTrue(e.hint().contains("modprobe vduse"), e.hint());
    }
}
