package io.vhost4j.vdpa;

import io.vhost4j.PackedVringBase;

import io.vhost4j.DeviceStatus;

/**
 * What a VDUSE device does when the kernel asks: called on the device's message thread
 * ({@link VduseDevice#start}), one request at a time, each answered when the method returns. The vhost-vdpa
 * caller waits for that answer, so these methods must not call vhost-vdpa themselves.
 */
public interface VduseHandler {
    /**
     * The driver wrote {@code status} ({@link DeviceStatus#RESET}: reset the device, forget the queues).
     *
     * @return {@code false} to fail the request: the kernel then keeps the old status
     */
    boolean setStatus(DeviceStatus status);

    /** The next available-ring index the device will read on split queue {@code index} ({@code VHOST_GET_VRING_BASE}). */
    int queueAvailIndex(int index);

    /**
     * Where packed queue {@code index} stands ({@code VHOST_GET_VRING_BASE} once RING_PACKED is negotiated); asked
     * instead of {@link #queueAvailIndex} then.
     *
     * @return the state, or {@code null} (the default: a device without packed queues) to fail the request
     */
    default PackedVringBase packedQueueBase(int index) {
        return null;
    }

    /**
     * The mappings in {@code [start, last]} changed (one call per kernel {@code set_map}: a whole IOTLB batch is one
     * call); {@link VduseDevice#iotlb()} shows the new ones already.
     */
    default void iotlbChanged(long start, long last) {}
}
