package io.vhost4j.internal.access;

import io.vhost4j.VhostDevice;
import io.vhost4j.internal.sys.IotlbChannel;

import java.util.function.Function;

/**
 * Lets the library's other packages (the IOTLB manager) reach a device's IOTLB channel without making it
 * public API: {@link VhostDevice} registers the accessor when it is initialised (the JDK's "shared secrets").
 */
public final class DeviceHandles {
    private DeviceHandles() {}

    private static volatile Function<VhostDevice, IotlbChannel> accessor;

    /** Called once, by {@link VhostDevice}'s static initialiser. */
    public static void register(Function<VhostDevice, IotlbChannel> a) {
        accessor = a;
    }

    /** The IOTLB channel of {@code device}. */
    public static IotlbChannel iotlb(VhostDevice device) {
        return accessor.apply(device);
    }
}
