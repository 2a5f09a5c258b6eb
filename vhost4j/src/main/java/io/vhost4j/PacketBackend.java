package io.vhost4j;

import io.vhost4j.internal.sys.Fd;
import io.vhost4j.internal.sys.RawSockets;

/**
 * A raw {@code AF_PACKET} socket bound to one interface, for every protocol, as a vhost-net backend: the queue
 * sends and receives whole frames on that interface. The socket carries no vnet header, so the driver acks
 * {@link VhostFeature#NET_VIRTIO_NET_HDR} and vhost-net adds and strips the header itself. Needs CAP_NET_RAW.
 */
public final class PacketBackend implements NetBackend, AutoCloseable {
    private final Fd fd;
    private final String interfaceName;

    private PacketBackend(Fd fd, String interfaceName) {
        this.fd = fd;
        this.interfaceName = interfaceName;
    }

    /** A packet socket on interface {@code name} (index {@code ifindex}). */
    public static PacketBackend bind(String name, int ifindex) throws VhostException {
        if (ifindex <= 0) {
            throw new IllegalArgumentException("interface index " + ifindex);
        }
        return new PacketBackend(RawSockets.openBound(ifindex, name, RawSockets.ALL_PROTOCOLS, false), name);
    }

    /** A packet socket on {@code tap}'s interface. */
    public static PacketBackend bind(Tap tap) throws VhostException {
        return bind(tap.name(), tap.ifindex());
    }

    /** The interface it is bound to. */
    public String interfaceName() {
        return interfaceName;
    }

    Fd handle() {
        return fd;
    }

    @Override
    public boolean isClosed() {
        return fd.isClosed();
    }

    @Override
    public void close() {
        fd.close();
    }

    @Override
    public String toString() {
        return "PacketBackend[" + interfaceName + (isClosed() ? ", closed]" : "]");
    }
}
