package io.vhost4j.kernel;

import io.vhost4j.testkit.VduseNetDevice;
import io.vhost4j.vdpa.VdpaBus;
import io.vhost4j.vdpa.VdpaManagement;
import io.vhost4j.vdpa.VduseControl;

import java.io.IOException;
import java.time.Duration;

/**
 * The device side alone, for tests whose VMM side is not the test kit's fixture: a {@link VduseNetDevice} added to
 * the vDPA bus and bound to vhost_vdpa, its vhost-vdpa node left for the test to open (or a CLI, or a helper).
 * Closing deletes the vdpa device and destroys the VDUSE device, in the kernel's order.
 */
final class BoundVduseNet implements AutoCloseable {
    final String name;
    final VduseControl control;
    final VduseNetDevice device;
    final VdpaManagement management;
    final String node;

    private BoundVduseNet(String name, VduseControl control, VduseNetDevice device, VdpaManagement management,
                          String node) {
        this.name = name;
        this.control = control;
        this.device = device;
        this.management = management;
        this.node = node;
    }

    static BoundVduseNet create(String name, int queueSize, Duration wait) throws IOException {
        VduseControl control = VduseControl.open();
        VduseNetDevice device = null;
        VdpaManagement management = null;
        boolean added = false;
        try {
            device = VduseNetDevice.create(control, name, queueSize);
            management = VdpaManagement.open();
            management.addDevice(name, "vduse");
            added = true;
            return new BoundVduseNet(name, control, device, management, VdpaBus.bindToVhostVdpa(name, wait));
        } catch (IOException | RuntimeException e) {
            if (added) {
                management.deleteDevice(name);
            }
            if (management != null) {
                management.close();
            }
            if (device != null) {
                device.close();
                control.destroy(name);
            }
            control.close();
            throw e;
        }
    }

    @Override
    public void close() throws IOException {
        try {
            management.deleteDevice(name);
        } finally {
            management.close();
            device.close();
            try {
                control.destroy(name);
            } finally {
                control.close();
            }
        }
    }
}
