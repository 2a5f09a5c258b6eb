package io.vhost4j.internal.access;

import io.vhost4j.VhostDevice;
import io.vhost4j.internal.sys.Fd;

import java.util.function.Function;

/**
 * Lets the library's other packages (the IOTLB manager) reach a device's owned descriptor without making it
 * public API: {@link VhostDevice} registers the accessor when it is initialised (the JDK's "shared secrets").
 */
public final class DeviceHandles {
    private DeviceHandles() {}

    private static volatile Function<VhostDevice, Fd> accessor;

    /** Called once, by {@link VhostDevice}'s static initialiser. */
    public static void register(Function<VhostDevice, Fd> a) {
        accessor = a;
    }

    /** The owned descriptor of {@code device}: bracket every use with {@link Fd#acquire()}/{@link Fd#release()}. */
    public static Fd of(VhostDevice device) {
        return accessor.apply(device);
    }
}
