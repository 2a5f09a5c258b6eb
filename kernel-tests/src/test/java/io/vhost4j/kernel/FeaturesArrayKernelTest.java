package io.vhost4j.kernel;

import io.vhost4j.DeviceKind;
import io.vhost4j.Errno;
import io.vhost4j.FeatureWords;
import io.vhost4j.Features;
import io.vhost4j.IotlbMessage;
import io.vhost4j.VhostException;
import io.vhost4j.VhostNet;
import io.vhost4j.VhostVsock;
import io.vhost4j.VirtioFeature;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code VHOST_GET/SET_FEATURES_ARRAY}: vhost-net's feature bits beyond 64 from Linux 6.18 (Debian's 7.3 here), absent
 * from older kernels and from vhost-vsock, whose queue ioctls refuse the unknown request with EPERM, ENOBUFS or
 * ENOTTY.
 */
@Tag("kernel")
class FeaturesArrayKernelTest {

    @BeforeEach
    void device() {
        KernelDevices.requireNet();
    }

    @Test
    void vhostNetGivesItsBitsBeyond64From618AndTakesBackOnlyThoseItOffers() throws Exception {
        try (VhostNet net = VhostNet.open()) {
            Optional<FeatureWords> words = net.getFeaturesArray(); // before the owner
            assertEquals(KernelDevices.kernelAtLeast(6, 18), words.isPresent(),
                    "vhost-net has VHOST_GET_FEATURES_ARRAY from 6.18: " + words);
            Features version1 = Features.of(DeviceKind.NET, VirtioFeature.VERSION_1);
            if (words.isEmpty()) {
                VhostException absent = assertThrows(VhostException.class,
                        () -> net.setFeaturesArray(FeatureWords.of(version1)));
                assertEquals(Errno.ENOTTY, absent.errno());
                assertTrue(absent.getMessage().contains("setFeatures acks bits 0-63"), absent.getMessage());
                net.setOwner(); // after the owner the kernel answers ENOBUFS (4 words read as queue 4): still absent
                assertEquals(Optional.empty(), net.getFeaturesArray());
                assertNull(net.ackedFeatures(), "nothing was acked");
                return;
            }
            FeatureWords offered = words.get();
            assertEquals(net.getFeatures(), offered.low(), "word 0 is what VHOST_GET_FEATURES offers");
            net.setOwner();
            assertEquals(words, net.getFeaturesArray(), "the same with an owner");
            FeatureWords ack = FeatureWords.of(version1, offered.word(1)); // VERSION_1 and every bit beyond 64
            net.setFeaturesArray(ack);
            assertEquals(version1, net.ackedFeatures());
            int notOffered = 64;
            while (offered.has(notOffered)) {
                notOffered++;
            }
            FeatureWords tooMuch = ack.with(notOffered);
            VhostException refused = assertThrows(VhostException.class, () -> net.setFeaturesArray(tooMuch));
            assertEquals(Errno.EOPNOTSUPP, refused.errno(), "bit " + notOffered + ": " + refused.getMessage());
            VhostException beyond = assertThrows(VhostException.class,
                    () -> net.setFeaturesArray(ack.with(64 * 3)), "a word the kernel does not have");
            assertEquals(Errno.EOPNOTSUPP, beyond.errno(), beyond.getMessage());
            assertEquals(version1, net.ackedFeatures(), "a refused ack changes nothing");
            // word 0 is applied as VHOST_SET_FEATURES would: with ACCESS_PLATFORM the kernel makes a device IOTLB,
            // which takes an INVALIDATE (without one it answers EFAULT); acking again is then refused in Java
            Features platform = version1.with(VirtioFeature.ACCESS_PLATFORM);
            net.setFeaturesArray(FeatureWords.of(platform, offered.word(1)));
            assertEquals(platform, net.ackedFeatures());
            net.writeIotlb(IotlbMessage.invalidate(0, 4096));
            IllegalStateException again = assertThrows(IllegalStateException.class, () -> net.setFeaturesArray(ack));
            assertTrue(again.getMessage().contains("VHOST_SET_FEATURES_ARRAY again would empty it"), again.getMessage());
        }
    }

    @Test
    void vhostVsockHasNoFeaturesArrayBeforeOrAfterItsOwner() throws Exception {
        KernelDevices.require("/dev/vhost-vsock");
        try (VhostVsock vsock = VhostVsock.open()) {
            assertEquals(Optional.empty(), vsock.getFeaturesArray());
            vsock.setOwner();
            assertEquals(Optional.empty(), vsock.getFeaturesArray());
            assertEquals(Errno.ENOTTY, assertThrows(VhostException.class, () -> vsock.setFeaturesArray(
                    FeatureWords.of(Features.of(DeviceKind.VSOCK, VirtioFeature.VERSION_1)))).errno());
        }
    }
}
