package io.vhost4j.vdpa;

/**
 * A management device of the vDPA bus ({@code VDPA_CMD_MGMTDEV_GET}): what can create vDPA devices.
 *
 * @param busName           its bus (e.g. {@code pci}), or {@code null} for a bus-less one such as {@code vduse}
 * @param name              its device name (e.g. {@code vduse})
 * @param supportedClasses  bit mask of the virtio device types it can create (bit 1 = net, bit 2 = block)
 * @param maxQueues         the most virtqueues a device of it may have (0 where the kernel does not say)
 * @param supportedFeatures the virtio features its devices can offer (0 where the kernel does not say)
 */
public record VdpaManagementDevice(String busName, String name, long supportedClasses, int maxQueues,
                                   long supportedFeatures) {
    /** {@code bus/name}, or just the name: how {@code vdpa mgmtdev show} names it. */
    public String handle() {
        return busName == null ? name : busName + "/" + name;
    }
}
