package io.vhost4j.internal.access;

import io.vhost4j.EventFd;
import io.vhost4j.VhostDevice;
import io.vhost4j.internal.sys.Fd;
import io.vhost4j.internal.sys.IotlbChannel;

import java.util.function.Function;

/**
 * Lets the library's other packages (the IOTLB manager, VDUSE) reach a device's IOTLB channel and an eventfd's
 * descriptor without making them public API: {@link VhostDevice} and {@link EventFd} register the accessors when
 * they are initialised (the JDK's "shared secrets").
 */
public final class DeviceHandles {
    private DeviceHandles() {}

    private static volatile Function<VhostDevice, IotlbChannel> accessor;

    /** Called once, by {@link VhostDevice}'s static initialiser. */
    public static void register(Function<VhostDevice, IotlbChannel> a) {
        accessor = a;
    }

    private static volatile Function<EventFd, Fd> eventFds;

    /** Called once, by {@link EventFd}'s static initialiser. */
    public static void registerEventFd(Function<EventFd, Fd> a) {
        eventFds = a;
    }

    /** The owned descriptor of {@code eventFd} (its class is initialised: the caller holds an instance). */
    public static Fd eventFd(EventFd eventFd) {
        return eventFds.apply(eventFd);
    }

    /** The IOTLB channel of {@code device}. */
    public static IotlbChannel iotlb(VhostDevice device) {
        return accessor.apply(device);
    }
}
