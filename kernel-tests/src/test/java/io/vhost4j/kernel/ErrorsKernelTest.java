package io.vhost4j.kernel;

import io.vhost4j.DeviceUnavailableException;
import io.vhost4j.Errno;
import io.vhost4j.PermissionDeniedException;
import io.vhost4j.VhostDevice;
import io.vhost4j.VhostVdpa;
import io.vhost4j.VhostException;
import io.vhost4j.VhostNet;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Errors a caller can switch on, with the hint that fits the operation, as the real kernel raises them. */
@Tag("kernel")
class ErrorsKernelTest {

    @BeforeEach
    void device() {
        KernelDevices.requireNet();
    }

    @Test
    void anIoctlBeforeSetOwnerIsEpermThatMeansNoOwnerNotNoPrivilege() throws Exception {
        try (VhostNet net = VhostNet.open()) {
            VhostException e = assertThrows(VhostException.class, () -> net.setVringNum(0, 256));
            assertEquals(Errno.EPERM, e.errno());
            assertFalse(e instanceof PermissionDeniedException, "root's call: not a permission problem");
            assertTrue(e.hint().contains("setOwner()"), e.getMessage());
            net.setOwner();
            net.setVringNum(0, 256); // and with an owner it works
        }
    }

    @Test
    void aVdpaDeviceThatIsNotThereIsDeviceUnavailableWithTheModuleHint() {
        String path = "/dev/vhost-vdpa-97"; // no vdpa device is created by the suite
        DeviceUnavailableException e = assertThrows(DeviceUnavailableException.class, () -> VhostDevice.open(path));
        assertEquals(Errno.ENOENT, e.errno());
        assertTrue(e.hint().contains("vhost_vdpa"), e.getMessage());
        assertTrue(e.hint().contains("no vDPA device is bound"), "the likelier cause where the module is there: "
                + e.getMessage());
        assertEquals(Errno.ENOENT, assertThrows(DeviceUnavailableException.class, () -> VhostVdpa.open(97)).errno());
    }
}
