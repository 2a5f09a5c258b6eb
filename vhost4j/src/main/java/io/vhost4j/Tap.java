package io.vhost4j;

import io.vhost4j.internal.gen.ifreq;
import io.vhost4j.internal.sys.Errors;
import io.vhost4j.internal.sys.Fd;
import io.vhost4j.internal.sys.Sys;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static io.vhost4j.internal.gen.VhostH.*;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * One queue of a tap interface, as vhost-net expects it: {@code IFF_TAP | IFF_NO_PI | IFF_VNET_HDR}, interface up.
 * A tap from {@code /dev/net/tun} ({@link #create}, {@link #createMultiQueue} with one {@code Tap} per queue,
 * {@link #attach} to an existing, possibly persistent one), a macvtap's {@code /dev/tapN} ({@link #openMacvtap}),
 * or a descriptor received from a privileged helper ({@link #adopt}). Creating or attaching needs CAP_NET_ADMIN;
 * a non-persistent interface disappears with its last file. Options ({@link TapOptions}) are checked before the
 * kernel sees any, and the one the kernel may still refuse (an offload it lacks) is set first: a failure leaves no
 * new interface behind.
 */
public final class Tap implements NetBackend, AutoCloseable {
    /** The default vnet header size: {@code struct virtio_net_hdr_v1} / {@code _mrg_rxbuf}. */
    public static final int VNET_HDR_SIZE = 12;
    /** The most queues a multi-queue tap takes ({@code MAX_TAP_QUEUES}). */
    public static final int MAX_QUEUES = 256;
    private static final String TUN = "/dev/net/tun";
    private static final int BASE_FLAGS = IFF_TAP() | IFF_NO_PI() | IFF_VNET_HDR();

    private final Fd fd;
    private final String name;
    private final int ifindex;
    private final boolean multiQueue;
    private final boolean macvtap;

    private Tap(Fd fd, String name, int ifindex, boolean multiQueue, boolean macvtap) {
        this.fd = fd;
        this.name = name;
        this.ifindex = ifindex;
        this.multiQueue = multiQueue;
        this.macvtap = macvtap;
    }

    /** {@link #create(String, TapOptions)} with {@link TapOptions#defaults()}. */
    public static Tap create(String name) throws VhostException {
        return create(name, TapOptions.defaults());
    }

    /**
     * Creates a single-queue tap named {@code name} (a pattern such as {@code "vh%d"} lets the kernel pick the
     * number), sets it up as {@code options} say and brings it up.
     *
     * @throws VhostException EEXIST if an interface of that name exists ({@link #attach} uses one)
     */
    public static Tap create(String name, TapOptions options) throws VhostException {
        java.util.Objects.requireNonNull(options, "options");
        return openTun(checkNew(name), false, options);
    }

    /**
     * Creates a multi-queue tap ({@code IFF_MULTI_QUEUE}) with {@code queues} queues, one {@code Tap} each, for one
     * vhost-net device per queue pair. All or nothing: a failure closes the queues opened so far.
     */
    public static List<Tap> createMultiQueue(String name, int queues, TapOptions options) throws VhostException {
        java.util.Objects.requireNonNull(options, "options");
        if (queues < 1 || queues > MAX_QUEUES) {
            throw new IllegalArgumentException(queues + " queues: 1.." + MAX_QUEUES);
        }
        List<Tap> taps = new ArrayList<>();
        try {
            taps.add(openTun(checkNew(name), true, options));
            String actual = taps.get(0).name();
            for (int i = 1; i < queues; i++) {
                taps.add(openTun(actual, true, options.withPersistent(false)));
            }
            return List.copyOf(taps);
        } catch (VhostException | RuntimeException e) {
            taps.forEach(Tap::close);
            throw e;
        }
    }

    /**
     * Opens one more queue of the existing tap {@code name} (made persistent earlier, or by another process):
     * single- or multi-queue as it was created. Options apply to the interface as a whole (offloads, header size,
     * send buffer); {@code persistent} false leaves its persistence as it is.
     *
     * @throws DeviceUnavailableException (ENODEV) if there is no tap of that name
     */
    public static Tap attach(String name, TapOptions options) throws VhostException {
        java.util.Objects.requireNonNull(options, "options");
        checkName(name);
        int flags = existingTunFlags(name);
        if (flags < 0 || (flags & IFF_TAP()) == 0) {
            throw Errors.failure(ENODEV(), "open", name + (flags >= 0 ? " (a tun, not a tap)"
                    : interfaceExists(name) ? " (an interface, but not a tap)"
                    : " (no such interface)"));
        }
        return openTun(name, (flags & IFF_MULTI_QUEUE()) != 0, options);
    }

    /**
     * Opens the macvtap (or ipvtap) interface {@code name} through its character device {@code /dev/tapN}
     * ({@code N} its interface index), set up as {@code options} say.
     */
    public static Tap openMacvtap(String name, TapOptions options) throws VhostException {
        java.util.Objects.requireNonNull(options, "options");
        checkName(name);
        int ifindex = ifindex(name);
        if (!isVtap(name, ifindex)) { // else /dev/tapN is some other interface's, or missing
            throw Errors.failure(ENODEV(), "open", name + " (an interface, but not a macvtap or ipvtap)");
        }
        Fd f = Fd.open("/dev/tap" + ifindex, O_RDWR() | O_NONBLOCK() | O_CLOEXEC());
        try {
            MemorySegment req = ifreq(name);
            ifreq.ifr_ifru.ifru_flags(ifreq.ifr_ifru(req), (short) BASE_FLAGS);
            Errors.check(Sys.ioctl(f.number(), TUNSETIFF(), req), "TUNSETIFF", f.name());
            configure(f, name, options);
            return new Tap(f, name, ifindex, false, true);
        } catch (VhostException | RuntimeException e) {
            f.close();
            throw e;
        }
    }

    /**
     * Takes ownership of {@code fd}, a tap or macvtap queue opened elsewhere (e.g. received from a privileged helper
     * over a unix socket): checked with {@code TUNGETIFF} to be a tap with a vnet header. The interface must be up.
     *
     * @throws IllegalArgumentException if {@code fd} is not such a tap
     */
    public static Tap adopt(int fd) throws VhostException {
        if (fd < 0) {
            throw new IllegalArgumentException("not a file descriptor: " + fd);
        }
        MemorySegment req = ifreq("");
        int rc = Sys.ioctl(fd, TUNGETIFF(), req);
        if (rc == -EBADF()) {
            throw new IllegalArgumentException("fd " + fd + " is not open");
        }
        if (rc < 0) {
            throw new IllegalArgumentException("fd " + fd + " is not a tap (TUNGETIFF: " + Errors.name(-rc) + ")");
        }
        int flags = Short.toUnsignedInt(ifreq.ifr_ifru.ifru_flags(ifreq.ifr_ifru(req)));
        String name = ifreq.ifr_ifrn(req).getString(0);
        if ((flags & IFF_TAP()) == 0 || (flags & IFF_VNET_HDR()) == 0) {
            throw new IllegalArgumentException("fd " + fd + " (" + name + ") is not a tap with a vnet header: flags 0x"
                    + Integer.toHexString(flags));
        }
        boolean macvtap = existingTunFlags(name) < 0; // a macvtap has no tun_flags in sysfs
        return new Tap(Fd.adopt(fd, name), name, ifindex(name), (flags & IFF_MULTI_QUEUE()) != 0, macvtap);
    }

    private static String checkName(String name) {
        java.util.Objects.requireNonNull(name, "interface name");
        byte[] bytes = name.getBytes(StandardCharsets.US_ASCII);
        // The kernel's dev_valid_name: not "." or "..", no '/', ':' or white space.
        if (bytes.length == 0 || bytes.length >= IFNAMSIZ() || name.equals(".") || name.equals("..")
                || !name.chars().allMatch(c -> c > ' ' && c < 127 && c != '/' && c != ':')) {
            throw new IllegalArgumentException("interface name \"" + name + "\" must be 1.." + (IFNAMSIZ() - 1)
                    + " printable ASCII characters without '/', ':' or spaces, and not \".\" or \"..\"");
        }
        return name;
    }

    /** A name for a new interface: a pattern, or a name no interface has. */
    private static String checkNew(String name) throws VhostException {
        checkName(name);
        int percent = name.indexOf('%');
        if (percent >= 0 && (!name.startsWith("%d", percent) || name.indexOf('%', percent + 1) >= 0)) {
            throw new IllegalArgumentException("interface name pattern \"" + name + "\": the kernel numbers one %d"
                    + " and takes no other %");
        }
        if (!name.contains("%") && interfaceExists(name)) {
            throw Errors.failure(EEXIST(), "TUNSETIFF", name);
        }
        return name;
    }

    /** Whether a network interface of that name exists (sysfs). */
    private static boolean interfaceExists(String name) {
        return Files.exists(Path.of("/sys/class/net", name));
    }

    /** Whether interface {@code name} is a macvtap or ipvtap: sysfs has its queue device {@code tap<ifindex>}. */
    private static boolean isVtap(String name, int ifindex) {
        return Files.exists(Path.of("/sys/class/net", name, "macvtap", "tap" + ifindex))
                || Files.exists(Path.of("/sys/class/net", name, "ipvtap", "tap" + ifindex));
    }

    /** The tun flags of interface {@code name} from sysfs, or -1 if it is not a tun/tap interface. */
    private static int existingTunFlags(String name) {
        try {
            return Integer.decode(Files.readString(Path.of("/sys/class/net", name, "tun_flags")).trim());
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    private static Tap openTun(String name, boolean multiQueue, TapOptions options) throws VhostException {
        Fd tun = Fd.open(TUN, O_RDWR() | O_NONBLOCK() | O_CLOEXEC());
        try {
            MemorySegment req = ifreq(name);
            ifreq.ifr_ifru.ifru_flags(ifreq.ifr_ifru(req),
                    (short) (BASE_FLAGS | (multiQueue ? IFF_MULTI_QUEUE() : 0)));
            Errors.check(Sys.ioctl(tun.number(), TUNSETIFF(), req), "TUNSETIFF", name);
            String actual = ifreq.ifr_ifrn(req).getString(0);
            configure(tun, actual, options);
            int ifindex = bringUp(actual);
            if (options.persistent()) {
                Errors.check(Sys.ioctl(tun.number(), TUNSETPERSIST(), 1L), "TUNSETPERSIST", actual);
            }
            return new Tap(tun, actual, ifindex, multiQueue, false);
        } catch (VhostException | RuntimeException e) {
            tun.close();
            throw e;
        }
    }

    /** Offloads first (the one option the kernel may refuse), then header size and send buffer. */
    private static void configure(Fd f, String name, TapOptions options) throws VhostException {
        Errors.check(Sys.ioctl(f.number(), TUNSETOFFLOAD(), (long) TapOffload.bits(options.offloads())),
                "TUNSETOFFLOAD", name);
        setInt(f, TUNSETVNETHDRSZ(), "TUNSETVNETHDRSZ", name, options.vnetHeaderSize());
        if (options.sendBufferBytes() > 0) {
            setInt(f, TUNSETSNDBUF(), "TUNSETSNDBUF", name, options.sendBufferBytes());
        }
    }

    private static void setInt(Fd f, long request, String op, String name, int value) throws VhostException {
        MemorySegment v = Sys.scratch();
        v.set(JAVA_INT, 0, value);
        Errors.check(Sys.ioctl(f.number(), request, v), op, name);
    }

    private int getInt(long request, String op) throws VhostException {
        int n = fd.acquire();
        try {
            MemorySegment v = Sys.scratch();
            Errors.check(Sys.ioctl(n, request, v), op, name);
            return v.get(JAVA_INT, 0);
        } finally {
            fd.release();
        }
    }

    /** A zeroed {@code struct ifreq} in the scratch buffer carrying {@code name}. */
    private static MemorySegment ifreq(String name) {
        MemorySegment req = Sys.scratch().asSlice(0, ifreq.sizeof());
        req.fill((byte) 0);
        ifreq.ifr_ifrn(req).setString(0, name, StandardCharsets.US_ASCII);
        return req;
    }

    private static int ifindex(String name) throws VhostException {
        int s = Errors.check(Sys.socket(AF_INET(), SOCK_DGRAM() | SOCK_CLOEXEC(), 0), "socket", name);
        try (Fd ctl = Fd.adopt(s, name)) {
            MemorySegment req = ifreq(name);
            Errors.check(Sys.ioctl(ctl.number(), SIOCGIFINDEX(), req), "SIOCGIFINDEX", name);
            return ifreq.ifr_ifru.ifru_ivalue(ifreq.ifr_ifru(req));
        }
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
        }
        return ifindex(name);
    }

    /** The interface name the kernel gave, e.g. {@code vh0}. */
    public String name() {
        return name;
    }

    /** The interface index (for binding packet sockets). */
    public int ifindex() {
        return ifindex;
    }

    /** Whether this is one queue of a multi-queue tap. */
    public boolean isMultiQueue() {
        return multiQueue;
    }

    /** Whether this is a macvtap (or ipvtap) queue rather than a tap from {@code /dev/net/tun}. */
    public boolean isMacvtap() {
        return macvtap;
    }

    /** Whether the interface outlives its last file ({@code IFF_PERSIST}, read from the kernel). */
    public boolean isPersistent() throws VhostException {
        int n = fd.acquire();
        try {
            MemorySegment req = ifreq("");
            Errors.check(Sys.ioctl(n, TUNGETIFF(), req), "TUNGETIFF", name);
            return (ifreq.ifr_ifru.ifru_flags(ifreq.ifr_ifru(req)) & IFF_PERSIST()) != 0;
        } finally {
            fd.release();
        }
    }

    /** Makes the interface persistent or not ({@code TUNSETPERSIST}; taps from {@code /dev/net/tun} only). */
    public void setPersistent(boolean persistent) throws VhostException {
        int n = fd.acquire();
        try {
            Errors.check(Sys.ioctl(n, TUNSETPERSIST(), persistent ? 1L : 0L), "TUNSETPERSIST", name);
        } finally {
            fd.release();
        }
    }

    /** The vnet header size the kernel uses ({@code TUNGETVNETHDRSZ}). */
    public int vnetHeaderSize() throws VhostException {
        return getInt(TUNGETVNETHDRSZ(), "TUNGETVNETHDRSZ");
    }

    /** The send buffer in bytes ({@code TUNGETSNDBUF}). */
    public int sendBufferSize() throws VhostException {
        return getInt(TUNGETSNDBUF(), "TUNGETSNDBUF");
    }

    /** Applies the interface options of {@code options} now (offloads first); persistence as {@link #attach}. */
    public void reconfigure(TapOptions options) throws VhostException {
        java.util.Objects.requireNonNull(options, "options");
        fd.acquire();
        try {
            configure(fd, name, options);
            if (options.persistent()) {
                Errors.check(Sys.ioctl(fd.number(), TUNSETPERSIST(), 1L), "TUNSETPERSIST", name);
            }
        } finally {
            fd.release();
        }
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

    /** Closes this queue; a non-persistent interface goes away with its last queue (and the vhost-net use of it). */
    @Override
    public void close() {
        fd.close();
    }

    @Override
    public String toString() {
        return "Tap[" + name + (macvtap ? ", macvtap" : "") + (multiQueue ? ", multi-queue" : "")
                + (isClosed() ? ", closed]" : "]");
    }
}
