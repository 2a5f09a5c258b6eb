package io.vhost4j.vdpa;

/**
 * A device on the vDPA bus, as {@code VDPA_CMD_DEV_GET} describes it.
 *
 * @param name              the device's name
 * @param managementDevice  the management device that made it (e.g. {@code vduse})
 * @param deviceId          the virtio device type (1 = net)
 * @param vendorId          the virtio vendor id
 * @param maxQueues         its number of virtqueues
 * @param maxQueueSize      the largest queue size
 * @param minQueueSize      the smallest queue size (0 where the kernel does not say)
 */
public record VdpaDeviceInfo(String name, String managementDevice, int deviceId, long vendorId, int maxQueues,
                             int maxQueueSize, int minQueueSize) {}
