package io.vhost4j;

import static io.vhost4j.internal.gen.VhostH.*;

/** {@code /dev/vhost-net}: the generic calls plus the backend (a {@link Tap}) of each queue; RX 0, TX 1. */
public final class VhostNet extends VhostDevice {
    /** The receive queue's index. */
    public static final int RX = 0;
    /** The transmit queue's index. */
    public static final int TX = 1;

    private VhostNet(String path) throws VhostException {
        super(path, DeviceKind.NET);
    }

    /** Opens {@code /dev/vhost-net}. */
    public static VhostNet open() throws VhostException {
        return open(DeviceKind.NET.defaultPath());
    }

    /** Opens a vhost-net device node. */
    public static VhostNet open(String path) throws VhostException {
        return new VhostNet(path);
    }

    /**
     * {@code VHOST_NET_SET_BACKEND}: starts queue {@code index} on {@code tap}. With the device IOTLB on, the
     * queue's used ring must already be mapped (else EFAULT, and the kernel queues a MISS for it).
     */
    public void setBackend(int index, Tap tap) throws VhostException {
        vringFile("VHOST_NET_SET_BACKEND", VHOST_NET_SET_BACKEND(), index, tap.handle());
    }

    /** {@code VHOST_NET_SET_BACKEND} with fd -1: stops queue {@code index}, keeping its ring state. */
    public void removeBackend(int index) throws VhostException {
        vringFile("VHOST_NET_SET_BACKEND", VHOST_NET_SET_BACKEND(), index, null);
    }
}
