package io.vhost4j;

import io.vhost4j.internal.gen.ifreq;
import io.vhost4j.internal.sys.Errno;
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
            Errno.check(Sys.ioctl(tun.get(), TUNSETIFF(), req), "TUNSETIFF", TUN);
            String actual = ifreq.ifr_ifrn(req).getString(0);
            MemorySegment size = Sys.scratch();
            size.set(JAVA_INT, 0, VNET_HDR_SIZE);
            Errno.check(Sys.ioctl(tun.get(), TUNSETVNETHDRSZ(), size), "TUNSETVNETHDRSZ", actual);
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
        int s = Errno.check(Sys.socket(AF_INET(), SOCK_DGRAM() | SOCK_CLOEXEC(), 0), "socket", name);
        try (Fd ctl = Fd.adopt(s, name)) {
            MemorySegment req = ifreq(name);
            Errno.check(Sys.ioctl(ctl.get(), SIOCGIFFLAGS(), req), "SIOCGIFFLAGS", name);
            MemorySegment u = ifreq.ifr_ifru(req);
            ifreq.ifr_ifru.ifru_flags(u, (short) (ifreq.ifr_ifru.ifru_flags(u) | IFF_UP()));
            Errno.check(Sys.ioctl(ctl.get(), SIOCSIFFLAGS(), req), "SIOCSIFFLAGS", name);
            req = ifreq(name);
            Errno.check(Sys.ioctl(ctl.get(), SIOCGIFINDEX(), req), "SIOCGIFINDEX", name);
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

    /** The tap's descriptor, e.g. for {@link VhostNet#setBackend}; valid until closed. */
    public int fd() {
        return fd.get();
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
