package io.vhost4j;

import static io.vhost4j.internal.gen.VhostH.*;

/** The virtio device status bits ({@code VIRTIO_CONFIG_S_*}), as vhost-vdpa's {@code GET/SET_STATUS} carry them. */
public enum DeviceStatusBit {
    /** The driver noticed the device. */
    ACKNOWLEDGE(VIRTIO_CONFIG_S_ACKNOWLEDGE()),
    /** The driver knows how to drive it. */
    DRIVER(VIRTIO_CONFIG_S_DRIVER()),
    /** The driver is set up and ready to drive the device. */
    DRIVER_OK(VIRTIO_CONFIG_S_DRIVER_OK()),
    /** Feature negotiation is complete. */
    FEATURES_OK(VIRTIO_CONFIG_S_FEATURES_OK()),
    /** The device met an error it cannot recover from without a reset. */
    NEEDS_RESET(VIRTIO_CONFIG_S_NEEDS_RESET()),
    /** The driver gave up on the device. */
    FAILED(VIRTIO_CONFIG_S_FAILED());

    private final int mask;

    DeviceStatusBit(int mask) { this.mask = mask; }

    /** The bit's value in the status byte. */
    public int mask() { return mask; }
}
