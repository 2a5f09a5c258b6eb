package io.vhost4j.internal.sys;

import io.vhost4j.internal.gen.VhostH;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The hand-computed request numbers use the kernel's _IOC encoding, checked against generated ones. */
class NewerIoctlsTest {

    @Test
    void theEncodingMatchesTheGeneratedBindings() {
        assertEquals(VhostH.VHOST_GET_FEATURES(), NewerIoctls.ioc(2, 0x00, 8));
        assertEquals(VhostH.VHOST_SET_VRING_NUM(), NewerIoctls.ioc(1, 0x10, 8));
        assertEquals(VhostH.VHOST_GET_VRING_BASE(), NewerIoctls.ioc(3, 0x12, 8));
        assertEquals(VhostH.VHOST_SET_FORK_FROM_OWNER(), NewerIoctls.ioc(1, 0x84, 1));
        assertEquals(VhostH.VHOST_GET_FORK_FROM_OWNER(), NewerIoctls.ioc(2, 0x85, 1));
    }

    @Test
    void theFirstForkOwnerNumbersAreOneBelowTheCurrentOnes() {
        assertEquals(0x4001AF83L, NewerIoctls.VHOST_SET_FORK_FROM_OWNER_FIRST);
        assertEquals(0x8001AF84L, NewerIoctls.VHOST_GET_FORK_FROM_OWNER_FIRST);
    }

    @Test
    void theFeaturesArrayPairIsTheMainlineHeadersNumbers() {
        assertEquals(0x8008AF83L, NewerIoctls.VHOST_GET_FEATURES_ARRAY); // _IOR(VHOST_VIRTIO, 0x83, __u64)
        assertEquals(0x4008AF83L, NewerIoctls.VHOST_SET_FEATURES_ARRAY); // _IOW(VHOST_VIRTIO, 0x83, __u64)
    }
}
