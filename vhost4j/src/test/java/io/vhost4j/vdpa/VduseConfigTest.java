package io.vhost4j.vdpa;

import io.vhost4j.NetFeature;
import io.vhost4j.VirtioFeature;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** VDUSE device configurations are checked in Java the way the kernel checks them. */
class VduseConfigTest {
    private static final byte[] MAC = {2, 0, 0, 0, 0, 1};

    @Test
    void aNetDeviceOffersVersion1AndAccessPlatformAndCarriesItsMac() {
        VduseConfig c = VduseConfig.net("n0", MAC, 256);
        assertEquals(VduseConfig.NET, c.deviceId());
        assertEquals(2, c.queues());
        assertTrue((c.features() & VirtioFeature.VERSION_1.mask()) != 0);
        assertTrue((c.features() & VirtioFeature.ACCESS_PLATFORM.mask()) != 0);
        assertArrayEquals(new byte[] {2, 0, 0, 0, 0, 1, 1, 0, 1, 0}, c.config());
        c.config()[0] = 9; // a copy
        assertEquals(2, c.config()[0]);
    }

    @Test
    void whatTheKernelWouldRefuseIsRefusedHere() {
        assertThrows(IllegalArgumentException.class, () -> VduseConfig.net("", MAC, 256));
        assertThrows(IllegalArgumentException.class, () -> VduseConfig.net("a/b", MAC, 256));
        assertThrows(IllegalArgumentException.class, () -> VduseConfig.net("x".repeat(256), MAC, 256));
        assertThrows(IllegalArgumentException.class, () -> VduseConfig.net("n", MAC, 100), "not a power of two");
        assertThrows(IllegalArgumentException.class, () -> VduseConfig.net("n", new byte[5], 256));
        assertThrows(IllegalArgumentException.class, () -> VduseConfig.net("n", MAC, 256, NetFeature.CTRL_VQ),
                "no control queue");
        long ap = VirtioFeature.ACCESS_PLATFORM.mask();
        assertThrows(IllegalArgumentException.class, () -> new VduseConfig("n", 0, VduseConfig.NET, ap, 2, 4096, 256,
                new byte[0]), "net without VERSION_1");
        assertThrows(IllegalArgumentException.class, () -> new VduseConfig("n", 0, 2,
                VirtioFeature.VERSION_1.mask(), 1, 4096, 256, new byte[0]), "no ACCESS_PLATFORM (6.12 says EINVAL)");
        assertThrows(IllegalArgumentException.class, () -> new VduseConfig("n", 0, 2, ap, 0, 4096, 256, new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> new VduseConfig("n", 0, 2, ap, 1, 8192, 256, new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> new VduseConfig("n", 0, 2, ap, 1, 4096, 256,
                new byte[4097]));
        new VduseConfig("blk", 0, 2, ap, 1, 4096, 1, new byte[8]); // a block device: what the kernel takes
    }
    @Test
    void aNetDeviceTakesNoFeatureOfAnotherKindAndNamesItsNullArguments() {
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> VduseConfig.net("v0", new byte[6], 256, io.vhost4j.VsockFeature.SEQPACKET));
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("SEQPACKET is a vsock feature: not in the features of a NET device"),
                e.getMessage());
        org.junit.jupiter.api.Assertions.assertEquals("mac", org.junit.jupiter.api.Assertions.assertThrows(
                NullPointerException.class, () -> VduseConfig.net("v0", null, 256)).getMessage());
        org.junit.jupiter.api.Assertions.assertEquals("name", org.junit.jupiter.api.Assertions.assertThrows(
                NullPointerException.class, () -> VduseConfig.net(null, new byte[6], 256)).getMessage());
    }
}
