package io.vhost4j;

import io.vhost4j.internal.gen.vhost_memory;
import io.vhost4j.internal.gen.vhost_memory_region;
import io.vhost4j.internal.gen.vhost_vring_addr;
import io.vhost4j.internal.gen.vhost_vring_file;
import io.vhost4j.internal.gen.vhost_vring_state;
import io.vhost4j.internal.access.DeviceHandles;
import io.vhost4j.internal.sys.Errors;
import io.vhost4j.internal.sys.Fd;
import io.vhost4j.internal.sys.IotlbChannel;
import io.vhost4j.internal.sys.NewerIoctls;
import io.vhost4j.internal.sys.IotlbWire;
import io.vhost4j.internal.sys.Sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

import static io.vhost4j.internal.gen.VhostH.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * An open vhost character device and every generic ioctl of {@code <linux/vhost.h>}.
 *
 * <p>{@link VhostNet}, {@link VhostVsock} and {@link VhostVdpa} add their device-specific calls; {@link #open(String)} opens any
 * other vhost device generically. Arguments are validated before the kernel sees them
 * ({@link IllegalArgumentException}); a call the kernel refuses throws {@link VhostException} naming the
 * errno, the ioctl and the device. After {@link #close()} every call throws {@link IllegalStateException}.
 * Calls may come from several threads.
 */
public sealed class VhostDevice implements AutoCloseable permits VhostNet, VhostVsock, VhostVdpa {
    /** Largest split virtqueue size. */
    public static final int MAX_QUEUE_SIZE = 32768;

    static {
        DeviceHandles.register(d -> d.iotlb);
    }

    private final Fd fd;
    private final IotlbChannel iotlb;
    private final DeviceKind kind;
    private volatile int maxQueues;
    private volatile Features acked;
    private volatile long[] forkOwnerIoctls; // {get, set} as the kernel answered them, once probed
    private volatile Boolean featuresArray; // whether VHOST_GET/SET_FEATURES_ARRAY are there, once probed
    private volatile BackendFeatures ackedBackend = new BackendFeatures(0);

    VhostDevice(String path, DeviceKind kind) throws VhostException {
        this(openChecked(path, kind), kind);
    }

    /**
     * Opens {@code path} read-write and non-blocking, and checks what it opened before any other call reaches it:
     * for {@link DeviceKind#NET} and {@link DeviceKind#VSOCK}, that it is that misc device (as {@link #adoptChecked}
     * does), whatever the node's name; for any other kind, that it is a character device (a vhost device's
     * {@code writeIotlb} must never write into a regular file or a disk), and for {@link DeviceKind#GENERIC} one
     * that answers {@code VHOST_GET_FEATURES} (vhost-vdpa checks its node its own way).
     *
     * @throws IllegalArgumentException if it is another file (closed again)
     */
    private static Fd openChecked(String path, DeviceKind kind) throws VhostException {
        Fd f = Fd.open(path, O_RDWR() | O_NONBLOCK() | O_CLOEXEC());
        try {
            OpenFile opened = OpenFile.of(f.number());
            if (kind == DeviceKind.NET || kind == DeviceKind.VSOCK) {
                checkDeviceNumber(opened, kind, path + " (");
            } else if (!opened.characterDevice()) {
                throw new IllegalArgumentException(path + " is not a character device, so not a vhost device");
            } else if (kind == DeviceKind.GENERIC) {
                int rc = Sys.ioctl(f.number(), VHOST_GET_FEATURES(), Sys.scratch()); // ours alone yet: not held
                if (rc < 0) {
                    throw new IllegalArgumentException(path + " does not answer VHOST_GET_FEATURES (" + Errors.name(-rc)
                            + "): not a vhost device");
                }
            }
        } catch (IllegalArgumentException e) {
            f.close();
            throw e;
        }
        return f;
    }

    /** The owned descriptor, for this library's other classes ({@link FdPassing}). */
    Fd handle() {
        return fd;
    }

    VhostDevice(Fd fd, DeviceKind kind) {
        this.kind = kind;
        this.maxQueues = kind.maxQueues();
        this.fd = fd;
        this.iotlb = new IotlbChannel(fd);
    }

    /**
     * A descriptor opened elsewhere, as {@code /proc/self/fd} shows it: the path it was opened by and the device
     * number of the open file (its {@code fstat}), whatever that path is now.
     */
    record OpenFile(String path, long major, long minor, boolean characterDevice) {
        private static final int S_IFMT = 0170000, S_IFCHR = 0020000;

        /** @throws IllegalArgumentException if {@code fd} is negative or not open */
        static OpenFile of(int fd) {
            if (fd < 0) {
                throw new IllegalArgumentException("not a file descriptor: " + fd);
            }
            java.nio.file.Path link = java.nio.file.Path.of("/proc/self/fd/" + fd);
            try {
                String path = java.nio.file.Files.readSymbolicLink(link).toString();
                long rdev = ((Number) java.nio.file.Files.getAttribute(link, "unix:rdev")).longValue();
                int mode = ((Number) java.nio.file.Files.getAttribute(link, "unix:mode")).intValue();
                return new OpenFile(path, (rdev >>> 8) & 0xfff, (rdev & 0xff) | ((rdev >>> 12) & 0xfff00),
                        (mode & S_IFMT) == S_IFCHR);
            } catch (java.io.IOException | UnsupportedOperationException e) {
                throw new IllegalArgumentException("fd " + fd + " is not open", e);
            }
        }
    }

    /** The misc character devices' numbers ({@code <linux/miscdevice.h>}): major 10, VHOST_NET_MINOR, VHOST_VSOCK_MINOR. */
    private static final int MISC_MAJOR = 10, VHOST_NET_MINOR = 238, VHOST_VSOCK_MINOR = 241;

    /**
     * Checks that {@code fd}, a descriptor opened elsewhere (e.g. received from a privileged helper), is a vhost
     * device of {@code kind}, and takes ownership of it: it must be the misc character device of that kind (major 10,
     * minor 238 for vhost-net, 241 for vhost-vsock, as {@code fstat} of the open file says, whatever its path) and
     * answer {@code VHOST_GET_FEATURES}. Its path (from {@code /proc/self/fd}) names it in messages. It must be
     * non-blocking for the IOTLB manager ({@code O_NONBLOCK}, as {@code open} here sets it): it is set if missing.
     *
     * @throws IllegalArgumentException if it is not such a device
     */
    static Fd adoptChecked(int fd, DeviceKind kind) {
        OpenFile f = OpenFile.of(fd);
        String path = f.path();
        checkDeviceNumber(f, kind, "fd " + fd + " (" + path + ", ");
        int rc = Sys.ioctl(fd, VHOST_GET_FEATURES(), Sys.scratch());
        if (rc < 0) {
            throw new IllegalArgumentException("fd " + fd + " (" + path + ") is not a vhost device (VHOST_GET_FEATURES: "
                    + Errors.name(-rc) + ")");
        }
        Sys.setNonBlocking(fd); // the IOTLB channel's reads must never block
        return Fd.adopt(fd, path);
    }

    /** Checks that {@code f} is the misc device of {@code kind}; the message starts with {@code named}. */
    private static void checkDeviceNumber(OpenFile f, DeviceKind kind, String named) {
        int wanted = kind == DeviceKind.NET ? VHOST_NET_MINOR : kind == DeviceKind.VSOCK ? VHOST_VSOCK_MINOR : -1;
        if (f.major() != MISC_MAJOR || f.minor() != wanted) {
            throw new IllegalArgumentException(named + "device " + f.major() + ":" + f.minor() + ") is not a "
                    + kind.defaultPath() + " device (10:" + wanted + ")");
        }
    }

    /**
     * Opens a vhost device of a kind this library has no class for (queue indexes checked as u16), e.g.
     * {@code /dev/vhost-scsi}: it must be a character device that answers {@code VHOST_GET_FEATURES}, else it is
     * closed again and refused ({@link IllegalArgumentException}), so that no vhost call (an IOTLB message is a
     * {@code write}) ever reaches another kind of file.
     */
    public static VhostDevice open(String path) throws VhostException {
        return new VhostDevice(path, DeviceKind.GENERIC);
    }

    /** The device node, e.g. {@code /dev/vhost-net}. */
    public String path() {
        return fd.name();
    }

    /** What kind of device this is. */
    public DeviceKind kind() {
        return kind;
    }

    /**
     * The raw descriptor number, e.g. for the caller's own epoll set. The library's own calls are safe against a
     * concurrent {@link #close()}; code that uses this number directly must stop before closing the device.
     */
    public int fd() {
        return fd.number();
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return fd.isClosed();
    }

    /**
     * Closes the device; the kernel stops its worker and drops all state. Safe while other threads are inside
     * calls on it: those finish on this device (never on a descriptor that reused the number), later calls
     * throw {@link IllegalStateException}, and the descriptor is closed when the last call ends. Closing twice
     * is harmless.
     */
    @Override
    public void close() {
        fd.close();
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + path() + (isClosed() ? ", closed" : "") + "]";
    }

    // ---- helpers -------------------------------------------------------------------------------------

    final void ioctl(String op, long request, MemorySegment arg) throws VhostException {
        ioctl(Sys.local(), op, request, arg);
    }

    /** {@link #ioctl(String, long, MemorySegment)} with the thread's buffers fetched by the caller (hot paths). */
    final void ioctl(Sys.Local local, String op, long request, MemorySegment arg) throws VhostException {
        int rc = fd.ioctl(local, request, arg);
        if (rc < 0) {
            throw Errors.failure(-rc, op, path());
        }
    }

    /**
     * An ioctl that creates the device's worker task ({@code SET_OWNER}, {@code NEW_WORKER}), with this thread's
     * asynchronous signals held back for the call: vhost fails it with ENOMEM when a signal is pending.
     */
    private void ioctlCreatingWorker(Sys.Local local, String op, long request, MemorySegment arg)
            throws VhostException {
        Errors.check(fd.ioctlSignalsBlocked(local, request, arg), op, path());
    }

    final void checkIndex(int index) {
        int max = maxQueues;
        if (index < 0 || index >= max) {
            throw new IllegalArgumentException("vring index " + index + " out of range for " + path() + " (0.."
                    + (max - 1) + ")");
        }
    }

    /** Narrows the valid queue indexes to {@code 0 .. count-1} (a vDPA device says how many it has). */
    final void limitQueues(int count) {
        maxQueues = Math.min(count, kind.maxQueues());
    }

    private void vringState(String op, long request, int index, int num) throws VhostException {
        checkIndex(index);
        Sys.Local l = Sys.local();
        MemorySegment s = l.scratch();
        vhost_vring_state.index(s, index);
        vhost_vring_state.num(s, num);
        ioctl(l, op, request, s);
    }

    /** A {@code vhost_vring_state} query on queue {@code index}: the {@code num} the kernel answers. */
    final int getVringState(String op, long request, int index) throws VhostException {
        checkIndex(index);
        Sys.Local l = Sys.local();
        MemorySegment s = l.scratch();
        vhost_vring_state.index(s, index);
        vhost_vring_state.num(s, 0);
        ioctl(l, op, request, s);
        return vhost_vring_state.num(s);
    }

    /** A {@code vhost_vring_file} ioctl on queue {@code index} passing {@code file} ({@code null}: unbind). */
    final void vringFile(String op, long request, int index, Fd file) throws VhostException {
        checkIndex(index);
        Sys.Local l = Sys.local();
        MemorySegment s = l.scratch();
        vhost_vring_file.index(s, index);
        ioctlPassing(l, op, request, s, vhost_vring_file.fd$offset(), file);
    }

    /**
     * An ioctl whose argument {@code s} carries another file's descriptor at {@code fdOffset} ({@code null}:
     * {@code VHOST_FILE_UNBIND}). The file is held for the call, so a concurrent close of it cannot hand the
     * kernel a number that meanwhile belongs to another file.
     */
    final void ioctlPassing(Sys.Local l, String op, long request, MemorySegment s, long fdOffset, Fd file)
            throws VhostException {
        s.set(JAVA_INT, fdOffset, file == null ? VHOST_FILE_UNBIND() : file.acquire());
        try {
            ioctl(l, op, request, s);
        } finally {
            if (file != null) {
                file.release();
            }
        }
    }

    static Fd handleOf(EventFd e) {
        return e == null ? null : e.handle();
    }

    // ---- ownership ---------------------------------------------------------------------------------

    /**
     * {@code VHOST_SET_OWNER}: binds the device to this process; fails with EBUSY if it has an owner. vhost-net and
     * vhost-vsock create the device's worker here, and vhost says ENOMEM for any failure to create it: Linux 7.3
     * fails it so when the calling thread has a signal pending (JVMs signal their threads, e.g. for JFR's sampling),
     * so this thread's asynchronous signals are held back for the call and delivered after it; and a worker that is
     * a thread of the owner (Linux 6.4 and later) is refused at the owner's task limit, e.g. its cgroup's
     * {@code pids.max} (the exception's hint says so).
     */
    public void setOwner() throws VhostException {
        ioctlCreatingWorker(Sys.local(), "VHOST_SET_OWNER", VHOST_SET_OWNER(), MemorySegment.NULL);
    }

    /**
     * {@code VHOST_RESET_OWNER}: stops the device and drops all its state, including acked features; then any process
     * may {@link #setOwner()} again. Only vhost-net has it: vhost-vsock and vhost-vdpa read the call as a queue ioctl
     * (EFAULT, up to Linux 7.3 at least), so on a {@link DeviceKind#VSOCK} or {@link DeviceKind#VDPA} device this
     * throws {@link UnsupportedOperationException} before the kernel sees it; there, close the device and open it
     * again.
     */
    public void resetOwner() throws VhostException {
        if (kind() == DeviceKind.VSOCK || kind() == DeviceKind.VDPA) {
            if (isClosed()) {
                throw new IllegalStateException(path() + " is closed"); // use after close, whatever the call
            }
            throw new UnsupportedOperationException(kind() + " devices have no VHOST_RESET_OWNER: close " + path()
                    + " and open it again");
        }
        ioctl("VHOST_RESET_OWNER", VHOST_RESET_OWNER(), MemorySegment.NULL);
        acked = null;
        ackedBackend = new BackendFeatures(0);
    }

    // ---- features ----------------------------------------------------------------------------------

    /** {@code VHOST_GET_FEATURES}: what the device offers. */
    public Features getFeatures() throws VhostException {
        Sys.Local l = Sys.local();
        MemorySegment s = l.scratch();
        ioctl(l, "VHOST_GET_FEATURES", VHOST_GET_FEATURES(), s);
        return new Features(kind, s.get(JAVA_LONG, 0));
    }

    /**
     * {@code VHOST_SET_FEATURES}: acks {@code features}; the kernel refuses bits it does not offer
     * (EOPNOTSUPP). With {@link VirtioFeature#ACCESS_PLATFORM} the kernel creates a new, empty device IOTLB.
     *
     * @throws IllegalStateException if the device IOTLB is already on: acking features again would silently
     *         throw every mapping away; use {@link #setFeaturesDiscardingIotlb} to mean it
     * @throws IllegalArgumentException for the features of a vsock device on a net device, or the other way round
     */
    public void setFeatures(Features features) throws VhostException {
        java.util.Objects.requireNonNull(features, "features");
        checkIotlbKept("VHOST_SET_FEATURES");
        setFeaturesDiscardingIotlb(features);
    }

    /** Refuses an ack of features ({@code op}) while the device IOTLB is on: the kernel would empty it. */
    private void checkIotlbKept(String op) {
        Features previous = acked;
        if (previous != null && previous.has(VirtioFeature.ACCESS_PLATFORM)) {
            throw new IllegalStateException("the device IOTLB of " + path() + " is on: " + op + " again would empty"
                    + " it; call setFeaturesDiscardingIotlb to do that on purpose");
        }
    }

    /**
     * {@code VHOST_SET_FEATURES} even when the device IOTLB is on: the kernel then replaces it with a new,
     * empty one, so every mapping is gone and the next accesses miss again.
     */
    public void setFeaturesDiscardingIotlb(Features features) throws VhostException {
        java.util.Objects.requireNonNull(features, "features");
        checkFeatureKind(features.kind());
        Sys.Local l = Sys.local();
        MemorySegment s = l.scratch();
        s.set(JAVA_LONG, 0, features.bits());
        ioctl(l, "VHOST_SET_FEATURES", VHOST_SET_FEATURES(), s);
        acked = features;
    }

    private void checkFeatureKind(DeviceKind of) {
        if (!kind.sharesBitsWith(of)) {
            throw new IllegalArgumentException("features of a " + of + " device for " + path() + " (" + kind
                    + "): their device-specific bits mean other things here");
        }
    }

    /**
     * The features this object last acked with {@link #setFeatures} (or bits 0-63 of {@link #setFeaturesArray}), or
     * {@code null} if none since reset.
     */
    public Features ackedFeatures() {
        return acked;
    }

    /** Words asked of {@code VHOST_GET_FEATURES_ARRAY}: twice what Linux knows of (it zeroes the words it lacks). */
    private static final int FEATURE_WORDS_ASKED = 4;

    /**
     * {@code VHOST_GET_FEATURES_ARRAY}: the offered features including the bits beyond 64 (vhost-net on Linux 6.18
     * and later: bits 65 and 67, the UDP tunnel GSO offloads, where the kernel's tun has them), word 0 being
     * {@link #getFeatures()}'s bits. Empty where the device does not answer the call (vhost-vsock, vhost-vdpa, and
     * vhost-net before 6.18): a vhost driver hands a request it does not know to its queue ioctls, which refuse it
     * with EPERM before {@link #setOwner()}, ENOBUFS after it when the word count read as a queue index is past the
     * device's queues, ENOTTY otherwise; a device that has the call answers none of these, so each reads as absent.
     * Works before {@link #setOwner()}.
     */
    public java.util.Optional<FeatureWords> getFeaturesArray() throws VhostException {
        Sys.Local l = Sys.local();
        MemorySegment s = l.scratch().asSlice(0, 8L * (1 + FEATURE_WORDS_ASKED));
        s.fill((byte) 0);
        s.set(JAVA_LONG, 0, FEATURE_WORDS_ASKED);
        int rc = fd.ioctl(l, NewerIoctls.VHOST_GET_FEATURES_ARRAY, s);
        if (rc == -EPERM() || rc == -ENOBUFS() || rc == -ENOTTY()) {
            featuresArray = false;
            return java.util.Optional.empty();
        }
        if (rc < 0) {
            throw Errors.failure(-rc, "VHOST_GET_FEATURES_ARRAY", path());
        }
        featuresArray = true;
        List<Long> words = new java.util.ArrayList<>(FEATURE_WORDS_ASKED);
        for (int i = 1; i <= FEATURE_WORDS_ASKED; i++) {
            words.add(s.getAtIndex(JAVA_LONG, i));
        }
        return java.util.Optional.of(new FeatureWords(kind, words));
    }

    /**
     * {@code VHOST_SET_FEATURES_ARRAY}: acks {@code features}, bits beyond 64 included; the kernel refuses bits it
     * does not offer (EOPNOTSUPP), in any word. Otherwise as {@link #setFeatures}: refused while the device IOTLB is
     * on, and with {@link VirtioFeature#ACCESS_PLATFORM} the kernel makes a new, empty one; {@link #ackedFeatures()}
     * then has bits 0-63.
     *
     * @throws VhostException ENOTTY where the device does not have the call ({@link #getFeaturesArray()} is empty):
     *         nothing is sent then
     * @throws IllegalStateException if the device IOTLB is already on (see {@link #setFeatures})
     * @throws IllegalArgumentException for the features of another kind of device
     */
    public void setFeaturesArray(FeatureWords features) throws VhostException {
        java.util.Objects.requireNonNull(features, "features");
        checkIotlbKept("VHOST_SET_FEATURES_ARRAY");
        checkFeatureKind(features.kind());
        Boolean known = featuresArray;
        if (known == null) {
            getFeaturesArray();
            known = featuresArray;
        }
        if (!known) {
            throw Errors.failure(ENOTTY(), "VHOST_SET_FEATURES_ARRAY", path());
        }
        List<Long> words = features.words();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(8L * (1 + words.size()), 8);
            s.set(JAVA_LONG, 0, words.size());
            for (int i = 0; i < words.size(); i++) {
                s.setAtIndex(JAVA_LONG, 1 + i, words.get(i));
            }
            ioctl("VHOST_SET_FEATURES_ARRAY", NewerIoctls.VHOST_SET_FEATURES_ARRAY, s);
        }
        acked = features.low();
    }

    /** {@code VHOST_GET_BACKEND_FEATURES}. */
    public BackendFeatures getBackendFeatures() throws VhostException {
        Sys.Local l = Sys.local();
        MemorySegment s = l.scratch();
        ioctl(l, "VHOST_GET_BACKEND_FEATURES", VHOST_GET_BACKEND_FEATURES(), s);
        return new BackendFeatures(s.get(JAVA_LONG, 0));
    }

    /** {@code VHOST_SET_BACKEND_FEATURES}: bits the device does not offer fail with EOPNOTSUPP. */
    public void setBackendFeatures(BackendFeatures features) throws VhostException {
        java.util.Objects.requireNonNull(features, "features");
        Sys.Local l = Sys.local();
        MemorySegment s = l.scratch();
        s.set(JAVA_LONG, 0, features.bits());
        ioctl(l, "VHOST_SET_BACKEND_FEATURES", VHOST_SET_BACKEND_FEATURES(), s);
        ackedBackend = features;
    }

    /** The backend features this object last acked (none after open or reset). */
    public BackendFeatures ackedBackendFeatures() {
        return ackedBackend;
    }

    // ---- device IOTLB ------------------------------------------------------------------------------

    /** Whether IOTLB messages on this device are v2 ({@code vhost_msg_v2}): IOTLB_MSG_V2 was acked. */
    public boolean iotlbMessagesV2() {
        return ackedBackend.has(BackendFeature.IOTLB_MSG_V2);
    }

    /**
     * Reads one queued device-IOTLB message (a MISS) without blocking.
     *
     * @return the message, or {@code null} if none is queued (EAGAIN)
     * @throws IllegalStateException if an IOTLB manager serves this device's misses (it reads them; a second reader
     *         would take some of those it waits for)
     */
    public IotlbMessage readIotlb() throws VhostException {
        if (iotlb.isClaimed()) {
            throw new IllegalStateException(path() + " is registered with an IOTLB manager, which reads its misses");
        }
        MemorySegment m = Sys.scratch().asSlice(0, IotlbWire.SIZE);
        long n = iotlb.read(m);
        if (n == IotlbChannel.NONE) {
            return null;
        }
        if (n == IotlbChannel.SHORT) {
            throw new IllegalStateException("short IOTLB message from " + path());
        }
        Errors.check(n, "read(IOTLB)", path());
        return IotlbMessage.decode(m);
    }

    /**
     * Writes one device-IOTLB message (UPDATE, INVALIDATE; BATCH_* on vhost-vdpa), as v2 when IOTLB_MSG_V2
     * was acked, else v1.
     *
     * @throws IllegalArgumentException for asid != 0 without the IOTLB_ASID backend feature (vhost-net and
     *         vhost-vsock would silently use address space 0)
     * @throws IllegalStateException on vhost-net or vhost-vsock whose features this object acked without
     *         ACCESS_PLATFORM: the device IOTLB is off (the kernel answers EFAULT); or while an IOTLB manager serves
     *         the device: it writes its IOTLB and keeps what it wrote in step with its translations (an INVALIDATE
     *         written past it would not reach its view), so use its {@code ManagedDevice}'s {@code invalidate} and
     *         {@code prefault}
     */
    public void writeIotlb(IotlbMessage message) throws VhostException {
        java.util.Objects.requireNonNull(message, "message");
        checkAsid(message.asid());
        if (iotlb.isClaimed()) {
            throw new IllegalStateException(path() + " is registered with an IOTLB manager, which writes its IOTLB:"
                    + " use its ManagedDevice's invalidate and prefault");
        }
        Features f = acked;
        if (kind != DeviceKind.VDPA && f != null && !f.has(VirtioFeature.ACCESS_PLATFORM)) {
            throw new IllegalStateException(path() + " has no device IOTLB (ACCESS_PLATFORM not acked): nothing to "
                    + message.type());
        }
        MemorySegment m = Sys.scratch().asSlice(0, IotlbWire.SIZE);
        message.encode(m, iotlbMessagesV2());
        iotlb.writeOrThrow(m, "write(IOTLB " + message.type() + ")", path());
    }

    /** Refuses a non-zero address space id unless IOTLB_ASID was acked. */
    public void checkAsid(int asid) {
        if (asid != 0 && !ackedBackend.has(BackendFeature.IOTLB_ASID)) {
            throw new IllegalArgumentException("asid " + asid + " on " + path() + " without the IOTLB_ASID backend"
                    + " feature: the kernel would ignore it and use address space 0");
        }
    }

    // ---- worker threads ------------------------------------------------------------------------------

    /**
     * {@code VHOST_GET_FORK_FROM_OWNER}: whose child the worker will be, or empty where the kernel lacks the call
     * (not built with {@code CONFIG_VHOST_ENABLE_FORK_OWNER_CONTROL}, or older than 6.17: such kernels answer an
     * unknown ioctl with EPERM before {@link #setOwner()}, ENOTTY after; kernels that have it answer before the
     * owner is set). The request
     * number changed once; both are tried, and the one that answered is used by
     * {@link #setForkFromOwner(ForkOwner)}. Works before {@link #setOwner()}.
     */
    public java.util.Optional<ForkOwner> getForkFromOwner() throws VhostException {
        long[][] candidates = forkOwnerIoctls != null ? new long[][] {forkOwnerIoctls} : new long[][] {
                {VHOST_GET_FORK_FROM_OWNER(), VHOST_SET_FORK_FROM_OWNER()},
                {NewerIoctls.VHOST_GET_FORK_FROM_OWNER_FIRST, NewerIoctls.VHOST_SET_FORK_FROM_OWNER_FIRST}};
        for (long[] pair : candidates) {
            Sys.Local l = Sys.local();
            MemorySegment s = l.scratch();
            s.set(JAVA_LONG, 0, 0);
            int rc = fd.ioctl(l, pair[0], s);
            if (rc == -ENOTTY() || rc == -EPERM()) {
                continue; // unknown here: kernels without it check the owner before they say ENOTTY
            }
            if (rc < 0) {
                throw Errors.failure(-rc, "VHOST_GET_FORK_FROM_OWNER", path());
            }
            forkOwnerIoctls = pair;
            return java.util.Optional.of(s.get(JAVA_BYTE, 0) == 0 ? ForkOwner.KTHREAD : ForkOwner.TASK);
        }
        return java.util.Optional.empty();
    }

    /**
     * {@code VHOST_SET_FORK_FROM_OWNER}; only before {@link #setOwner()} (the kernel says EBUSY after).
     *
     * @throws VhostException ENOTTY where the kernel lacks the call ({@link #getForkFromOwner()} is empty)
     */
    public void setForkFromOwner(ForkOwner owner) throws VhostException {
        if (forkOwnerIoctls == null && getForkFromOwner().isEmpty()) {
            throw Errors.failure(ENOTTY(), "VHOST_SET_FORK_FROM_OWNER", path());
        }
        Sys.Local l = Sys.local();
        MemorySegment s = l.scratch();
        s.set(JAVA_BYTE, 0, (byte) (owner == ForkOwner.TASK ? 1 : 0));
        ioctl(l, "VHOST_SET_FORK_FROM_OWNER", forkOwnerIoctls[1], s);
    }

    /** {@code VHOST_NEW_WORKER}: a new worker thread for this device; returns its id (ENOTTY on vhost-net). */
    public int newWorker() throws VhostException {
        Sys.Local l = Sys.local();
        MemorySegment s = l.scratch();
        s.set(JAVA_INT, 0, 0);
        ioctlCreatingWorker(l, "VHOST_NEW_WORKER", VHOST_NEW_WORKER(), s);
        return s.get(JAVA_INT, 0);
    }

    /** {@code VHOST_FREE_WORKER}: frees a worker made by {@link #newWorker()} that no queue uses. */
    public void freeWorker(int workerId) throws VhostException {
        Sys.Local l = Sys.local();
        MemorySegment s = l.scratch();
        s.set(JAVA_INT, 0, workerId);
        ioctl(l, "VHOST_FREE_WORKER", VHOST_FREE_WORKER(), s);
    }

    /** {@code VHOST_ATTACH_VRING_WORKER}: queue {@code index} is served by worker {@code workerId}. */
    public void attachVringWorker(int index, int workerId) throws VhostException {
        checkIndex(index);
        Sys.Local l = Sys.local();
        MemorySegment s = l.scratch();
        s.set(JAVA_INT, 0, index);
        s.set(JAVA_INT, 4, workerId);
        ioctl(l, "VHOST_ATTACH_VRING_WORKER", VHOST_ATTACH_VRING_WORKER(), s);
    }

    /** {@code VHOST_GET_VRING_WORKER}: the id of the worker serving queue {@code index}. */
    public int getVringWorker(int index) throws VhostException {
        checkIndex(index);
        Sys.Local l = Sys.local();
        MemorySegment s = l.scratch();
        s.set(JAVA_INT, 0, index);
        s.set(JAVA_INT, 4, 0);
        ioctl(l, "VHOST_GET_VRING_WORKER", VHOST_GET_VRING_WORKER(), s);
        return s.get(JAVA_INT, 4);
    }

    // ---- memory and logging ------------------------------------------------------------------------

    /** {@code VHOST_SET_MEM_TABLE}. */
    public void setMemTable(MemoryTable table) throws VhostException {
        java.util.Objects.requireNonNull(table, "table");
        List<MemoryRegion> regions = table.regions();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(vhost_memory.sizeof() + regions.size() * vhost_memory_region.sizeof(), 8);
            vhost_memory.nregions(m, regions.size());
            vhost_memory.padding(m, 0);
            for (int i = 0; i < regions.size(); i++) {
                MemoryRegion r = regions.get(i);
                MemorySegment e = m.asSlice(vhost_memory.regions$offset() + i * vhost_memory_region.sizeof(),
                        vhost_memory_region.sizeof());
                vhost_memory_region.guest_phys_addr(e, r.guestPhysAddr());
                vhost_memory_region.memory_size(e, r.size());
                vhost_memory_region.userspace_addr(e, r.userAddr());
                vhost_memory_region.flags_padding(e, 0);
            }
            ioctl("VHOST_SET_MEM_TABLE", VHOST_SET_MEM_TABLE(), m);
        }
    }

    /** {@code VHOST_SET_LOG_BASE}: the user address of the dirty-page bitmap (one bit per 4 KiB page). */
    public void setLogBase(long userAddr) throws VhostException {
        if (userAddr < 0) {
            throw new IllegalArgumentException("log base 0x" + Long.toHexString(userAddr) + " is not a user address");
        }
        Sys.Local l = Sys.local();
        MemorySegment s = l.scratch();
        s.set(JAVA_LONG, 0, userAddr);
        ioctl(l, "VHOST_SET_LOG_BASE", VHOST_SET_LOG_BASE(), s);
    }

    /** {@code VHOST_SET_LOG_FD}: signalled after the log is written; {@code null} unbinds. */
    public void setLogFd(EventFd eventFd) throws VhostException {
        Sys.Local l = Sys.local();
        MemorySegment s = l.scratch();
        ioctlPassing(l, "VHOST_SET_LOG_FD", VHOST_SET_LOG_FD(), s, 0, handleOf(eventFd));
    }

    // ---- virtqueues --------------------------------------------------------------------------------

    /** {@code VHOST_SET_VRING_NUM}: the queue size, a power of two from 1 to {@value #MAX_QUEUE_SIZE}. */
    public void setVringNum(int index, int size) throws VhostException {
        if (size <= 0 || size > MAX_QUEUE_SIZE || Integer.bitCount(size) != 1) {
            throw new IllegalArgumentException("queue size " + size + " is not a power of two in 1.."
                    + MAX_QUEUE_SIZE);
        }
        vringState("VHOST_SET_VRING_NUM", VHOST_SET_VRING_NUM(), index, size);
    }

    /**
     * {@code VHOST_SET_VRING_ADDR}. The address kind must match the negotiated features: IOVAs need
     * {@link VirtioFeature#ACCESS_PLATFORM} acked on this device, user addresses need it off. On vhost-vdpa they
     * are always IOVAs.
     */
    public void setVringAddr(VringAddr addr) throws VhostException {
        java.util.Objects.requireNonNull(addr, "addr");
        checkIndex(addr.index());
        Features f = acked;
        if (kind == DeviceKind.VDPA && addr.kind() != AddressKind.IOVA) {
            throw new IllegalArgumentException("vhost-vdpa ring addresses are IOVAs (mapped with IOTLB updates), not "
                    + addr.kind() + ": " + path());
        }
        boolean iotlb = f != null && f.has(VirtioFeature.ACCESS_PLATFORM);
        if (kind != DeviceKind.VDPA && f != null && iotlb != (addr.kind() == AddressKind.IOVA)) {
            throw new IllegalArgumentException(addr.kind() + " ring addresses given to " + path() + " whose device"
                    + " IOTLB is " + (iotlb ? "on (ACCESS_PLATFORM acked): use IOVAs" : "off: use user addresses"));
        }
        Sys.Local l = Sys.local();
        MemorySegment s = l.scratch();
        vhost_vring_addr.index(s, addr.index());
        vhost_vring_addr.flags(s, addr.log() ? 1 << VHOST_VRING_F_LOG() : 0);
        vhost_vring_addr.desc_user_addr(s, addr.desc());
        vhost_vring_addr.used_user_addr(s, addr.used());
        vhost_vring_addr.avail_user_addr(s, addr.avail());
        vhost_vring_addr.log_guest_addr(s, addr.logGuestAddr());
        ioctl(l, "VHOST_SET_VRING_ADDR", VHOST_SET_VRING_ADDR(), s);
    }

    /**
     * {@code VHOST_SET_VRING_BASE} of a split queue: the next available-ring index the device will read (0..65535).
     *
     * @throws IllegalStateException once {@link VirtioFeature#RING_PACKED} was acked here: a packed queue's base
     *         also holds the used position ({@link #setPackedVringBase})
     */
    public void setVringBase(int index, int base) throws VhostException {
        if (base < 0 || base > 0xffff) {
            throw new IllegalArgumentException("vring base " + base + " out of range 0..65535");
        }
        checkRingLayout(false, "setVringBase");
        vringState("VHOST_SET_VRING_BASE", VHOST_SET_VRING_BASE(), index, base);
    }

    /**
     * {@code VHOST_GET_VRING_BASE} of a split queue: the next available-ring index the device will read.
     *
     * @throws IllegalStateException once {@link VirtioFeature#RING_PACKED} was acked here ({@link #getPackedVringBase})
     */
    public int getVringBase(int index) throws VhostException {
        checkRingLayout(false, "getVringBase");
        return getVringState("VHOST_GET_VRING_BASE", VHOST_GET_VRING_BASE(), index);
    }

    /**
     * {@code VHOST_SET_VRING_BASE} of a packed queue: where the device resumes, available and used side.
     *
     * @throws IllegalStateException unless {@link VirtioFeature#RING_PACKED} was acked through this object (the kernel
     *         would read the number as a split queue's index, and refuse or misread it)
     */
    public void setPackedVringBase(int index, PackedVringBase base) throws VhostException {
        java.util.Objects.requireNonNull(base, "base");
        checkRingLayout(true, "setPackedVringBase");
        vringState("VHOST_SET_VRING_BASE", VHOST_SET_VRING_BASE(), index, base.bits());
    }

    /**
     * {@code VHOST_GET_VRING_BASE} of a packed queue.
     *
     * @throws IllegalStateException unless {@link VirtioFeature#RING_PACKED} was acked through this object
     */
    public PackedVringBase getPackedVringBase(int index) throws VhostException {
        checkRingLayout(true, "getPackedVringBase");
        return PackedVringBase.fromBits(getVringState("VHOST_GET_VRING_BASE", VHOST_GET_VRING_BASE(), index));
    }

    /**
     * Refuses a vring-base call for the other ring layout than the one acked through this object: the split calls
     * once RING_PACKED is acked, the packed ones unless it is.
     */
    private void checkRingLayout(boolean packedCall, String call) {
        Features f = acked;
        boolean packed = f != null && f.has(VirtioFeature.RING_PACKED);
        if (packed != packedCall) {
            throw new IllegalStateException(call + " on " + path() + ": its queues are " + (packed
                    ? "packed (RING_PACKED acked): use setPackedVringBase/getPackedVringBase"
                    : "split (RING_PACKED not acked through this object): use setVringBase/getVringBase"));
        }
    }

    /** {@code VHOST_SET_VRING_ENDIAN} (legacy virtio on a cross-endian host; ENOTTY if not built in). */
    public void setVringEndian(int index, VringEndian endian) throws VhostException {
        java.util.Objects.requireNonNull(endian, "endian");
        vringState("VHOST_SET_VRING_ENDIAN", VHOST_SET_VRING_ENDIAN(), index,
                endian == VringEndian.BIG ? VHOST_VRING_BIG_ENDIAN() : VHOST_VRING_LITTLE_ENDIAN());
    }

    /** {@code VHOST_GET_VRING_ENDIAN}. */
    public VringEndian getVringEndian(int index) throws VhostException {
        int v = getVringState("VHOST_GET_VRING_ENDIAN", VHOST_GET_VRING_ENDIAN(), index);
        return v == VHOST_VRING_BIG_ENDIAN() ? VringEndian.BIG : VringEndian.LITTLE;
    }

    /** {@code VHOST_SET_VRING_KICK}: the eventfd the driver signals after adding buffers; {@code null} unbinds. */
    public void setVringKick(int index, EventFd eventFd) throws VhostException {
        vringFile("VHOST_SET_VRING_KICK", VHOST_SET_VRING_KICK(), index, handleOf(eventFd));
    }

    /** {@code VHOST_SET_VRING_CALL}: the eventfd the device signals after using buffers; {@code null} unbinds. */
    public void setVringCall(int index, EventFd eventFd) throws VhostException {
        vringFile("VHOST_SET_VRING_CALL", VHOST_SET_VRING_CALL(), index, handleOf(eventFd));
    }

    /** {@code VHOST_SET_VRING_ERR}: the eventfd the device signals on a ring or buffer access error. */
    public void setVringErr(int index, EventFd eventFd) throws VhostException {
        vringFile("VHOST_SET_VRING_ERR", VHOST_SET_VRING_ERR(), index, handleOf(eventFd));
    }

    /** {@code VHOST_SET_VRING_BUSYLOOP_TIMEOUT}: how long the worker polls before sleeping, in microseconds. */
    public void setVringBusyloopTimeout(int index, int micros) throws VhostException {
        if (micros < 0) {
            throw new IllegalArgumentException("busy-loop timeout must be >= 0 µs, got " + micros);
        }
        vringState("VHOST_SET_VRING_BUSYLOOP_TIMEOUT", VHOST_SET_VRING_BUSYLOOP_TIMEOUT(), index, micros);
    }

    /** {@code VHOST_GET_VRING_BUSYLOOP_TIMEOUT}, in microseconds. */
    public int getVringBusyloopTimeout(int index) throws VhostException {
        return getVringState("VHOST_GET_VRING_BUSYLOOP_TIMEOUT", VHOST_GET_VRING_BUSYLOOP_TIMEOUT(), index);
    }
}
