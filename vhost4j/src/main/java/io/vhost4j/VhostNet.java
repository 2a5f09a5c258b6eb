package io.vhost4j;

import static io.vhost4j.internal.gen.VhostH.*;

/**
 * {@code /dev/vhost-net}: the generic calls plus the backend ({@link NetBackend}: a tap or macvtap queue, or a raw
 * packet socket) of each queue; RX 0, TX 1. For a multi-queue guest, one device per queue pair, each on its own
 * queue of a multi-queue tap ({@link Tap#createMultiQueue}).
 */
public final class VhostNet extends VhostDevice {
    /** The receive queue's index. */
    public static final int RX = 0;
    /** The transmit queue's index. */
    public static final int TX = 1;

    private VhostNet(String path) throws VhostException {
        super(path, DeviceKind.NET);
    }

    /** Over an open descriptor, unchecked: for {@link #adopt} after its checks, and for tests. */
    VhostNet(io.vhost4j.internal.sys.Fd fd) {
        super(fd, DeviceKind.NET);
    }

    /**
     * Takes ownership of {@code fd}, a vhost-net descriptor opened elsewhere (e.g. received with {@link FdPassing}):
     * checked to be vhost-net. This process becomes its owner with {@link #setOwner()}, as usual.
     *
     * @throws IllegalArgumentException if {@code fd} is not a vhost-net device
     */
    public static VhostNet adopt(int fd) {
        return new VhostNet(adoptChecked(fd, DeviceKind.NET));
    }

    /** Opens {@code /dev/vhost-net}. */
    public static VhostNet open() throws VhostException {
        return open(DeviceKind.NET.defaultPath());
    }

    /**
     * Opens a vhost-net device node, by any name (e.g. inside a container): it must be the misc device
     * 10:238.
     *
     * @throws IllegalArgumentException if {@code path} is another file
     */
    public static VhostNet open(String path) throws VhostException {
        return new VhostNet(path);
    }

    /**
     * {@code VHOST_NET_SET_BACKEND}: starts queue {@code index} on {@code backend}. With the device IOTLB on, the
     * queue's used ring must already be mapped (else EFAULT, and the kernel queues a MISS for it). A raw packet
     * socket carries no vnet header: ack {@link VhostFeature#NET_VIRTIO_NET_HDR} with it, so that vhost-net handles it.
     */
    public void setBackend(int index, NetBackend backend) throws VhostException {
        java.util.Objects.requireNonNull(backend, "backend (removeBackend(index) stops a queue)");
        vringFile("VHOST_NET_SET_BACKEND", VHOST_NET_SET_BACKEND(), index, switch (backend) {
            case Tap t -> t.handle();
            case PacketBackend p -> p.handle();
        });
    }

    /** {@code VHOST_NET_SET_BACKEND} with fd -1: stops queue {@code index}, keeping its ring state. */
    public void removeBackend(int index) throws VhostException {
        vringFile("VHOST_NET_SET_BACKEND", VHOST_NET_SET_BACKEND(), index, null);
    }
}
