package io.vhost4j.vdpa;

import io.vhost4j.DeviceKind;
import io.vhost4j.Feature;
import io.vhost4j.Features;
import io.vhost4j.NetFeature;
import io.vhost4j.VirtioFeature;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * What {@code VDUSE_CREATE_DEV} needs ({@code struct vduse_dev_config}) plus the size of every queue
 * ({@code VDUSE_VQ_SETUP}), validated as the kernel validates it.
 *
 * @param name         the device's name: {@code /dev/vduse/<name>} and the vdpa device's name (1..255 bytes, no '/')
 * @param vendorId     the virtio vendor id
 * @param deviceId     the virtio device type ({@link #NET} = 1, block = 2)
 * @param features     the device features offered: ACCESS_PLATFORM always (the kernel refuses a VDUSE device
 *                     without it); a net device also VERSION_1, and not CTRL_VQ
 * @param queues       the number of virtqueues (1..65535)
 * @param queueAlign   the ring alignment (at most 4096)
 * @param queueMaxSize the largest size of every queue (a power of two, 1..32768)
 * @param config       the device's configuration space (at most 4096 bytes; read-only to the driver)
 */
public record VduseConfig(String name, int vendorId, int deviceId, long features, int queues, int queueAlign,
                          int queueMaxSize, byte[] config) {
    /** The virtio device type of a network device ({@code VIRTIO_ID_NET}). */
    public static final int NET = io.vhost4j.internal.gen.VhostH.VIRTIO_ID_NET();
    private static final int NAME_MAX = io.vhost4j.internal.gen.VhostH.VDUSE_NAME_MAX();

    /** Validates every field; copies {@code config}. */
    public VduseConfig {
        java.util.Objects.requireNonNull(name, "name");
        java.util.Objects.requireNonNull(config, "config");
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        if (n.length == 0 || n.length >= NAME_MAX || name.indexOf('/') >= 0 || name.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("VDUSE device name \"" + name + "\" must be 1.." + (NAME_MAX - 1)
                    + " bytes without '/'");
        }
        if (queues < 1 || queues > 0xffff) {
            throw new IllegalArgumentException(queues + " virtqueues: must be 1..65535");
        }
        if (queueAlign < 0 || queueAlign > 4096) {
            throw new IllegalArgumentException("queue alignment " + queueAlign + " must be 0..4096");
        }
        if (queueMaxSize < 1 || queueMaxSize > 32768 || Integer.bitCount(queueMaxSize) != 1) {
            throw new IllegalArgumentException("queue size " + queueMaxSize + " is not a power of two in 1..32768");
        }
        if (config.length > 4096) {
            throw new IllegalArgumentException("a configuration space of " + config.length + " bytes (at most 4096)");
        }
        if ((features & VirtioFeature.ACCESS_PLATFORM.mask()) == 0) {
            throw new IllegalArgumentException("a VDUSE device must offer ACCESS_PLATFORM (its driver reaches memory"
                    + " only through the device's IOTLB)");
        }
        if (deviceId == NET) {
            if ((features & VirtioFeature.VERSION_1.mask()) == 0) {
                throw new IllegalArgumentException("a VDUSE net device must offer VERSION_1");
            }
            if ((features & NetFeature.CTRL_VQ.mask()) != 0) {
                throw new IllegalArgumentException("a VDUSE net device cannot offer CTRL_VQ (no control queue)");
            }
        }
        config = config.clone();
    }

    /**
     * A virtio-net device: 2 queues (RX, TX) of {@code queueMaxSize}, the given features plus VERSION_1 and
     * ACCESS_PLATFORM, and a configuration space with {@code mac} and link-up status ({@code virtio_net_config}'s
     * first 10 bytes: mac, status, max_virtqueue_pairs = 1).
     *
     * @throws IllegalArgumentException for a feature of another kind of device (a vsock feature), among others
     */
    public static VduseConfig net(String name, byte[] mac, int queueMaxSize, Feature... features) {
        java.util.Objects.requireNonNull(mac, "mac");
        if (mac.length != 6) {
            throw new IllegalArgumentException("a MAC address has 6 bytes, not " + mac.length);
        }
        long bits = Features.of(DeviceKind.NET, VirtioFeature.VERSION_1, VirtioFeature.ACCESS_PLATFORM).with(features)
                .bits(); // refuses a feature of another kind of device
        byte[] cfg = new byte[10];
        System.arraycopy(mac, 0, cfg, 0, 6);
        cfg[6] = 1; // VIRTIO_NET_S_LINK_UP, little-endian u16 (only meaningful with NetFeature.STATUS)
        cfg[8] = 1; // max_virtqueue_pairs
        return new VduseConfig(name, 0, NET, bits, 2, 4096, queueMaxSize, cfg);
    }

    /** A copy of the configuration space. */
    @Override
    public byte[] config() {
        return config.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VduseConfig c && name.equals(c.name) && vendorId == c.vendorId && deviceId == c.deviceId
                && features == c.features && queues == c.queues && queueAlign == c.queueAlign
                && queueMaxSize == c.queueMaxSize && Arrays.equals(config, c.config);
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(config);
    }

    @Override
    public String toString() {
        return "VduseConfig[" + name + ", device " + deviceId + ", features 0x" + Long.toHexString(features) + ", "
                + queues + " queues of " + queueMaxSize + ", config " + config.length + " bytes]";
    }
}
