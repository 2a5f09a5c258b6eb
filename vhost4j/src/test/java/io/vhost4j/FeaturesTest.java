package io.vhost4j;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FeaturesTest {

    @Test
    void debianVhostNetOfferPrintsByName() {
        Features f = new Features(DeviceKind.NET, 0x33d008000L);
        assertEquals(List.of("MRG_RXBUF", "NOTIFY_ON_EMPTY", "LOG_ALL", "NET_VIRTIO_NET_HDR", "RING_INDIRECT_DESC",
                "RING_EVENT_IDX", "VERSION_1", "ACCESS_PLATFORM"), f.names());
        assertTrue(f.toString().startsWith("0x33d008000 [MRG_RXBUF"), f.toString());
        assertEquals("bit 41", new Features(DeviceKind.NET, 1L << 41).names().get(0));
    }

    @Test
    void deviceBitsAreNamedPerKind() {
        assertEquals(List.of("CSUM"), new Features(DeviceKind.NET, 1).names());
        assertEquals(List.of("STREAM"), new Features(DeviceKind.VSOCK, 1).names());
        assertEquals(List.of("bit 0"), new Features(DeviceKind.GENERIC, 1).names());
    }

    @Test
    void setAlgebra() {
        Features f = Features.of(DeviceKind.NET, VirtioFeature.VERSION_1, VirtioFeature.ACCESS_PLATFORM);
        assertEquals((1L << 32) | (1L << 33), f.bits());
        assertTrue(f.has(VirtioFeature.ACCESS_PLATFORM));
        assertFalse(f.without(VirtioFeature.ACCESS_PLATFORM).has(VirtioFeature.ACCESS_PLATFORM));
        assertTrue(new Features(DeviceKind.NET, 0x33d008000L).containsAll(f));
        assertEquals(1L << 32, f.intersect(Features.of(DeviceKind.NET, VirtioFeature.VERSION_1)).bits());
    }

    @Test
    void backendFeatures() {
        assertEquals("0x2 [IOTLB_MSG_V2]", new BackendFeatures(2).toString());
        assertEquals(List.of("IOTLB_MSG_V2", "IOTLB_BATCH", "IOTLB_ASID", "SUSPEND", "RESUME",
                "ENABLE_AFTER_DRIVER_OK", "bit 9"), new BackendFeatures(0x27eL).names());
    }
    @Test
    void aFeatureOfAnotherKindOfDeviceIsRefusedNotReadAsTheSameBit() {
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> Features.of(DeviceKind.NET, VsockFeature.SEQPACKET));
        assertTrue(e.getMessage().contains("SEQPACKET is a vsock feature"), e.getMessage());
        Features vsock = Features.of(DeviceKind.VSOCK, VirtioFeature.VERSION_1);
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> vsock.with(NetFeature.CSUM));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> vsock.has(NetFeature.CSUM));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> vsock.without(NetFeature.CSUM));
        // vDPA and generic devices may be of any virtio type
        assertTrue(Features.of(DeviceKind.VDPA, NetFeature.MRG_RXBUF).has(NetFeature.MRG_RXBUF));
        assertTrue(Features.of(DeviceKind.GENERIC, VsockFeature.SEQPACKET).has(VsockFeature.SEQPACKET));
        assertEquals("kind", org.junit.jupiter.api.Assertions.assertThrows(NullPointerException.class,
                () -> Features.of(null)).getMessage());
        Features net = Features.of(DeviceKind.NET);
        assertEquals("feature", org.junit.jupiter.api.Assertions.assertThrows(NullPointerException.class,
                () -> net.has(null)).getMessage());
        assertEquals("feature", org.junit.jupiter.api.Assertions.assertThrows(NullPointerException.class,
                () -> net.with(NetFeature.CSUM, null)).getMessage());
        assertEquals("other", org.junit.jupiter.api.Assertions.assertThrows(NullPointerException.class,
                () -> net.intersect(null)).getMessage());
    }
}
