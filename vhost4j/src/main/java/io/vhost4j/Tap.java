package io.vhost4j;

import io.vhost4j.internal.gen.ifreq;
import io.vhost4j.internal.sys.Errors;
import io.vhost4j.internal.sys.Fd;
import io.vhost4j.internal.sys.Sys;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

import static io.vhost4j.internal.gen.VhostH.*;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * A tap interface from {@code /dev/net/tun} set up as vhost-net expects: {@code IFF_TAP | IFF_NO_PI |
 * IFF_VNET_HDR}, a {@value #VNET_HDR_SIZE}-byte virtio-net header, interface up. Needs CAP_NET_ADMIN.
 * The interface disappears when the tap is closed.
 */
public final class Tap implements AutoCloseable {
    /** The vnet header size set on the tap: {@code struct virtio_net_hdr_v1} / {@code _mrg_rxbuf}. */
    public static final int VNET_HDR_SIZE = 12;
    private static final String TUN = "/dev/net/tun";

    private final Fd fd;
    private final String name;
    private final int ifindex;

    private Tap(Fd fd, String name, int ifindex) {
        this.fd = fd;
        this.name = name;
        this.ifindex = ifindex;
    }

    /**
     * Creates a tap named {@code name} (a pattern such as {@code "vh%d"} lets the kernel pick the number),
     * sets its vnet header size and brings it up.
     */
    public static Tap create(String name) throws VhostException {
        byte[] bytes = name.getBytes(StandardCharsets.US_ASCII);
        if (bytes.length == 0 || bytes.length >= IFNAMSIZ() || !name.chars().allMatch(c -> c > ' ' && c < 127
                && c != '/')) {
            throw new IllegalArgumentException("interface name \"" + name + "\" must be 1.." + (IFNAMSIZ() - 1)
                    + " printable ASCII characters without '/' or spaces");
        }
        Fd tun = Fd.open(TUN, O_RDWR() | O_NONBLOCK() | O_CLOEXEC());
        try {
            MemorySegment req = ifreq(name);
            ifreq.ifr_ifru.ifru_flags(ifreq.ifr_ifru(req), (short) (IFF_TAP() | IFF_NO_PI() | IFF_VNET_HDR()));
            Errors.check(Sys.ioctl(tun.number(), TUNSETIFF(), req), "TUNSETIFF", TUN);
            String actual = ifreq.ifr_ifrn(req).getString(0);
            MemorySegment size = Sys.scratch();
            size.set(JAVA_INT, 0, VNET_HDR_SIZE);
            Errors.check(Sys.ioctl(tun.number(), TUNSETVNETHDRSZ(), size), "TUNSETVNETHDRSZ", actual);
            int ifindex = bringUp(actual);
            return new Tap(tun, actual, ifindex);
        } catch (VhostException | RuntimeException e) {
            tun.close();
            throw e;
        }
    }

    /** A zeroed {@code struct ifreq} in the scratch buffer carrying {@code name}. */
    private static MemorySegment ifreq(String name) {
        MemorySegment req = Sys.scratch().asSlice(0, ifreq.sizeof());
        req.fill((byte) 0);
        ifreq.ifr_ifrn(req).setString(0, name, StandardCharsets.US_ASCII);
        return req;
    }

    /** Sets IFF_UP on the interface and returns its index. */
    private static int bringUp(String name) throws VhostException {
        int s = Errors.check(Sys.socket(AF_INET(), SOCK_DGRAM() | SOCK_CLOEXEC(), 0), "socket", name);
        try (Fd ctl = Fd.adopt(s, name)) {
            MemorySegment req = ifreq(name);
            Errors.check(Sys.ioctl(ctl.number(), SIOCGIFFLAGS(), req), "SIOCGIFFLAGS", name);
            MemorySegment u = ifreq.ifr_ifru(req);
            ifreq.ifr_ifru.ifru_flags(u, (short) (ifreq.ifr_ifru.ifru_flags(u) | IFF_UP()));
            Errors.check(Sys.ioctl(ctl.number(), SIOCSIFFLAGS(), req), "SIOCSIFFLAGS", name);
            req = ifreq(name);
            Errors.check(Sys.ioctl(ctl.number(), SIOCGIFINDEX(), req), "SIOCGIFINDEX", name);
            return ifreq.ifr_ifru.ifru_ivalue(ifreq.ifr_ifru(req));
        }
    }

    /** The interface name the kernel gave, e.g. {@code vh0}. */
    public String name() {
        return name;
    }

    /** The interface index (for binding packet sockets). */
    public int ifindex() {
        return ifindex;
    }

    /** The tap's raw descriptor number; the library's own calls ({@link VhostNet#setBackend}) take the tap itself. */
    public int fd() {
        return fd.number();
    }

    /** The owned descriptor, for calls of this library's other classes. */
    Fd handle() {
        return fd;
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return fd.isClosed();
    }

    /** Closes the tap; the interface goes away once no vhost-net queue uses it either. */
    @Override
    public void close() {
        fd.close();
    }

    @Override
    public String toString() {
        return "Tap[" + name + (isClosed() ? ", closed]" : "]");
    }
}
