package io.vhost4j;

import java.util.List;

/** The kinds of vhost device: where each lives, how many virtqueues it has, how its feature bits are named. */
public enum DeviceKind {
    /** {@code /dev/vhost-net}: RX queue 0, TX queue 1. */
    NET("/dev/vhost-net", 2, List.of(NetFeature.values())),
    /** {@code /dev/vhost-vsock}: RX queue 0, TX queue 1 (the event queue stays in the VMM). */
    VSOCK("/dev/vhost-vsock", 2, List.of(VsockFeature.values())),
    /**
     * {@code /dev/vhost-vdpa-N}: as many queues as {@code VHOST_VDPA_GET_VQS_COUNT} says; device features are named
     * only where they are device-independent (a vDPA device may be of any virtio type).
     */
    VDPA("/dev/vhost-vdpa-0", 0x10000, List.of()),
    /** Any other vhost character device; queue indexes are only checked against the u16 range. */
    GENERIC(null, 0x10000, List.of());

    private final String defaultPath;
    private final int maxQueues;
    private final List<Feature> deviceFeatures;

    DeviceKind(String defaultPath, int maxQueues, List<Feature> deviceFeatures) {
        this.defaultPath = defaultPath;
        this.maxQueues = maxQueues;
        this.deviceFeatures = deviceFeatures;
    }

    /** The usual device node ({@link #VDPA}: the first one), or {@code null} for {@link #GENERIC}. */
    public String defaultPath() { return defaultPath; }

    /** Number of virtqueues the kernel driver has; valid indexes are {@code 0 .. maxQueues()-1}. */
    public int maxQueues() { return maxQueues; }

    /**
     * Whether {@code feature} may be in this kind's features: every generic one, and the device-specific ones of
     * this kind; {@link #VDPA} and {@link #GENERIC} devices may be of any virtio type and take any.
     */
    public boolean accepts(Feature feature) {
        return switch (feature) {
            case NetFeature n -> sharesBitsWith(NET);
            case VsockFeature v -> sharesBitsWith(VSOCK);
            case VirtioFeature v -> true;
            case VhostFeature v -> true;
        };
    }

    /** Whether the device-specific feature bits of {@code other} mean the same here: not between NET and VSOCK. */
    boolean sharesBitsWith(DeviceKind other) {
        return !(this == NET && other == VSOCK) && !(this == VSOCK && other == NET);
    }

    /** Every feature this kind of device may offer, device-specific bits first, in bit order per group. */
    public List<Feature> vocabulary() {
        List<Feature> all = new java.util.ArrayList<>(deviceFeatures);
        all.addAll(List.of(VhostFeature.values()));
        for (VirtioFeature f : VirtioFeature.values()) {
            all.add(f);
        }
        return all;
    }
}
