package io.vhost4j.internal.sys;

import io.vhost4j.internal.gen.VhostH;
import io.vhost4j.internal.gen.pollfd;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The hand-written syscall layer: libc downcalls that capture {@code errno}.
 *
 * <p>Every call returns the syscall's non-negative result, or {@code -errno} on failure; nothing here
 * throws for a kernel error and nothing allocates, so hot paths (the IOTLB loop) can test for EAGAIN
 * cheaply. {@link Errors#check} turns a negative result into a {@code VhostException} — the one place
 * where errno is mapped. EINTR is retried here.
 */
public final class Sys {
    private Sys() {}

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final long ERRNO_OFFSET =
            CAPTURE_LAYOUT.byteOffset(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option ERRNO = Linker.Option.captureCallState("errno");
    static final int EINTR = 4;

    /**
     * A thread's syscall buffers: the errno capture buffer and the {@link #scratch()} buffer, fetched with one
     * thread-local lookup by the hot paths ({@link #local()}, {@link #ioctl(Local, int, long, MemorySegment)}).
     */
    public static final class Local {
        private final MemorySegment capture;
        private final MemorySegment scratch;
        private final MemorySegment savedMask;

        private Local() {
            Arena arena = Arena.ofAuto();
            capture = arena.allocate(CAPTURE_LAYOUT);
            scratch = arena.allocate(SCRATCH_BYTES, 8);
            savedMask = arena.allocate(SIGSET_BYTES, 8);
        }

        /** This thread's scratch buffer (see {@link Sys#scratch()}). */
        public MemorySegment scratch() {
            return scratch;
        }
    }

    private static final ThreadLocal<Local> LOCAL = ThreadLocal.withInitial(Local::new);

    /** This thread's buffers. */
    public static Local local() {
        return LOCAL.get();
    }

    private static MethodHandle downcall(String name, FunctionDescriptor fd, Linker.Option... options) {
        MemorySegment symbol = LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
        return LINKER.downcallHandle(symbol, fd, options);
    }

    private static final MethodHandle OPEN = downcall("open",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), ERRNO, Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = downcall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT), ERRNO);
    private static final MethodHandle IOCTL_PTR = downcall("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), ERRNO, Linker.Option.firstVariadicArg(2));
    private static final MethodHandle IOCTL_LONG = downcall("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), ERRNO, Linker.Option.firstVariadicArg(2));
    private static final MethodHandle READ = downcall("read",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), ERRNO);
    private static final MethodHandle WRITE = downcall("write",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), ERRNO);
    private static final MethodHandle POLL = downcall("poll",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), ERRNO);
    private static final MethodHandle EPOLL_CREATE1 = downcall("epoll_create1",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT), ERRNO);
    private static final MethodHandle EPOLL_CTL = downcall("epoll_ctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS), ERRNO);
    private static final MethodHandle EPOLL_WAIT = downcall("epoll_wait",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), ERRNO);
    private static final MethodHandle EVENTFD = downcall("eventfd",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), ERRNO);
    private static final MethodHandle MMAP = downcall("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG), ERRNO);
    private static final MethodHandle MUNMAP = downcall("munmap",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG), ERRNO);
    private static final MethodHandle MEMFD_CREATE = downcall("memfd_create",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), ERRNO);
    private static final MethodHandle FTRUNCATE = downcall("ftruncate",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG), ERRNO);
    private static final MethodHandle SOCKET = downcall("socket",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), ERRNO);
    private static final MethodHandle BIND = downcall("bind",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), ERRNO);
    private static final MethodHandle FCNTL = downcall("fcntl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), ERRNO, Linker.Option.firstVariadicArg(2));
    private static final MethodHandle SETSOCKOPT = downcall("setsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), ERRNO);
    private static final MethodHandle SHUTDOWN = downcall("shutdown",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), ERRNO);
    private static final MethodHandle CONNECT = downcall("connect",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), ERRNO);
    private static final MethodHandle LISTEN = downcall("listen",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), ERRNO);
    private static final MethodHandle ACCEPT4 = downcall("accept4",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT), ERRNO);
    private static final MethodHandle SENDMSG = downcall("sendmsg",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT), ERRNO);
    private static final MethodHandle RECVMSG = downcall("recvmsg",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT), ERRNO);
    private static final MethodHandle GETSOCKNAME = downcall("getsockname",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), ERRNO);
    private static final MethodHandle STRERROR = downcall("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    private static final MethodHandle PTHREAD_SIGMASK = downcall("pthread_sigmask",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));

    /** glibc's {@code sigset_t} (1024 bits) and the {@code pthread_sigmask} operations used here. */
    private static final int SIGSET_BYTES = 128, SIG_BLOCK = 0, SIG_SETMASK = 2;
    /**
     * Every signal but the synchronous ones (SIGILL 4, SIGTRAP 5, SIGBUS 7, SIGFPE 8, SIGSEGV 11, SIGSYS 31): the JVM
     * takes SIGSEGV for its safepoint polls and null checks in the Java code between the downcalls, and a blocked
     * synchronous signal kills the process. SIGKILL and SIGSTOP cannot be blocked; glibc keeps its own two.
     */
    private static final MemorySegment ASYNC_SIGNALS = asyncSignals();

    private static MemorySegment asyncSignals() {
        MemorySegment set = Arena.global().allocate(SIGSET_BYTES, 8);
        set.fill((byte) 0xff);
        long sync = 0;
        for (int sig : new int[] {4, 5, 7, 8, 11, 31}) {
            sync |= 1L << (sig - 1);
        }
        set.set(JAVA_LONG, 0, ~sync);
        return set;
    }

    /** Size of the per-thread {@link #scratch()} buffer. */
    public static final int SCRATCH_BYTES = 256;

    /**
     * A per-thread, 8-byte aligned buffer of {@link #SCRATCH_BYTES} for syscall arguments. Only a leaf
     * method (one that calls nothing else that uses it) may fill it; its contents are garbage on entry.
     */
    public static MemorySegment scratch() {
        return LOCAL.get().scratch;
    }

    private static int errno(MemorySegment capture) {
        return capture.get(JAVA_INT, ERRNO_OFFSET);
    }

    private static int result(int rc, MemorySegment capture) {
        return rc >= 0 ? rc : -errno(capture);
    }

    private static long result(long rc, MemorySegment capture) {
        return rc >= 0 ? rc : -errno(capture);
    }

    /**
     * What a downcall threw: the linker's own argument checks (a heap segment where memory is passed, a segment
     * of a closed arena or of another thread) are runtime exceptions and go to the caller as they are.
     */
    private static RuntimeException unexpected(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException("downcall failed", t);
    }

    /** {@code open(path, flags, mode)}; {@code path} is a NUL-terminated C string. */
    public static int open(MemorySegment path, int flags, int mode) {
        MemorySegment c = LOCAL.get().capture;
        try {
            int rc;
            do rc = result((int) OPEN.invokeExact(c, path, flags, mode), c); while (rc == -EINTR);
            return rc;
        } catch (Throwable t) { throw unexpected(t); }
    }

    /** {@code close(fd)}; never retried (Linux releases the fd even when close reports EINTR). */
    public static int close(int fd) {
        MemorySegment c = LOCAL.get().capture;
        try {
            return result((int) CLOSE.invokeExact(c, fd), c);
        } catch (Throwable t) { throw unexpected(t); }
    }

    /** {@code ioctl(fd, request, arg)} with a pointer argument ({@code MemorySegment.NULL} for none). */
    public static int ioctl(int fd, long request, MemorySegment arg) {
        return ioctl(LOCAL.get(), fd, request, arg);
    }


    /** {@link #ioctl(int, long, MemorySegment)} with this thread's buffers already at hand. */
    public static int ioctl(Local local, int fd, long request, MemorySegment arg) {
        MemorySegment c = local.capture;
        try {
            int rc;
            do rc = result((int) IOCTL_PTR.invokeExact(c, fd, request, arg), c); while (rc == -EINTR);
            return rc;
        } catch (Throwable t) { throw unexpected(t); }
    }

    /**
     * {@link #ioctl(Local, int, long, MemorySegment)} with this thread's asynchronous signals blocked for the call
     * and delivered after it, for the ioctls that a pending signal fails instead of interrupting: vhost's
     * {@code SET_OWNER} and {@code NEW_WORKER} create the worker task with the kernel's {@code copy_process}, which
     * refuses to fork while the caller has a signal pending, and vhost reports that (as any failure to create the
     * task) as ENOMEM. A JVM signals its threads on its own (JFR's sampler, thread suspension), so without this
     * those calls fail now and then.
     */
    public static int ioctlSignalsBlocked(Local local, int fd, long request, MemorySegment arg) {
        try {
            int rc = (int) PTHREAD_SIGMASK.invokeExact(SIG_BLOCK, ASYNC_SIGNALS, local.savedMask);
            if (rc != 0) {
                return -rc; // pthread_sigmask returns the error number (only EINVAL, for a bad operation)
            }
        } catch (Throwable t) { throw unexpected(t); }
        try {
            return ioctl(local, fd, request, arg);
        } finally {
            try {
                int rc = (int) PTHREAD_SIGMASK.invokeExact(SIG_SETMASK, local.savedMask, MemorySegment.NULL);
                if (rc != 0) {
                    throw new IllegalStateException("pthread_sigmask could not restore the signal mask: " + rc);
                }
            } catch (Throwable t) { throw unexpected(t); }
        }
    }

    /** {@code ioctl(fd, request, value)} with an integer argument passed by value. */
    public static int ioctl(int fd, long request, long value) {
        MemorySegment c = LOCAL.get().capture;
        try {
            int rc;
            do rc = result((int) IOCTL_LONG.invokeExact(c, fd, request, value), c); while (rc == -EINTR);
            return rc;
        } catch (Throwable t) { throw unexpected(t); }
    }

    /** {@code read(fd, buf, buf.byteSize())}. */
    public static long read(int fd, MemorySegment buf) {
        return read(fd, buf, buf.byteSize());
    }

    /** {@code read(fd, buf, count)}; {@code count} must not exceed the segment's size. */
    public static long read(int fd, MemorySegment buf, long count) {
        return read(LOCAL.get(), fd, buf, count);
    }

    /** {@link #read(int, MemorySegment, long)} with this thread's buffers already at hand. */
    public static long read(Local local, int fd, MemorySegment buf, long count) {
        checkBounds(buf, count);
        MemorySegment c = local.capture;
        try {
            long rc;
            do rc = result((long) READ.invokeExact(c, fd, buf, count), c); while (rc == -EINTR);
            return rc;
        } catch (Throwable t) { throw unexpected(t); }
    }

    /** {@code write(fd, buf, buf.byteSize())}. */
    public static long write(int fd, MemorySegment buf) {
        return write(fd, buf, buf.byteSize());
    }

    /** {@code write(fd, buf, count)}; {@code count} must not exceed the segment's size. */
    public static long write(int fd, MemorySegment buf, long count) {
        return write(LOCAL.get(), fd, buf, count);
    }

    /** {@link #write(int, MemorySegment, long)} with this thread's buffers already at hand. */
    public static long write(Local local, int fd, MemorySegment buf, long count) {
        checkBounds(buf, count);
        MemorySegment c = local.capture;
        try {
            long rc;
            do rc = result((long) WRITE.invokeExact(c, fd, buf, count), c); while (rc == -EINTR);
            return rc;
        } catch (Throwable t) { throw unexpected(t); }
    }

    private static void checkBounds(MemorySegment buf, long count) {
        if (!buf.isNative()) {
            throw new IllegalArgumentException("the kernel can only read and write native memory (a segment from an"
                    + " Arena), not a heap segment");
        }
        if (count < 0 || count > buf.byteSize()) {
            throw new IndexOutOfBoundsException("count " + count + " outside a buffer of " + buf.byteSize());
        }
    }

    /** {@code poll(fds, nfds, timeoutMillis)}; EINTR is reported (as {@code -4}), not retried. */
    public static int poll(MemorySegment fds, long nfds, int timeoutMillis) {
        MemorySegment c = LOCAL.get().capture;
        try {
            return result((int) POLL.invokeExact(c, fds, nfds, timeoutMillis), c);
        } catch (Throwable t) { throw unexpected(t); }
    }

    /**
     * Waits up to {@code timeoutMillis} for {@code fd} to be readable ({@code poll} with POLLIN).
     *
     * @return 1 if readable, 0 on timeout, {@code -errno} on failure; EINTR counts as a timeout
     */
    public static int pollIn(int fd, int timeoutMillis) {
        MemorySegment pfd = LOCAL.get().scratch;
        pollfd.fd(pfd, fd);
        pollfd.events(pfd, (short) VhostH.POLLIN());
        pollfd.revents(pfd, (short) 0);
        int rc = poll(pfd, 1, timeoutMillis);
        return rc == -EINTR ? 0 : rc;
    }

    public static int epollCreate1(int flags) {
        MemorySegment c = LOCAL.get().capture;
        try {
            return result((int) EPOLL_CREATE1.invokeExact(c, flags), c);
        } catch (Throwable t) { throw unexpected(t); }
    }

    public static int epollCtl(int epfd, int op, int fd, MemorySegment event) {
        MemorySegment c = LOCAL.get().capture;
        try {
            return result((int) EPOLL_CTL.invokeExact(c, epfd, op, fd, event), c);
        } catch (Throwable t) { throw unexpected(t); }
    }

    /** {@code epoll_wait}; EINTR is reported (as {@code -4}), not retried. */
    public static int epollWait(int epfd, MemorySegment events, int maxEvents, int timeoutMillis) {
        MemorySegment c = LOCAL.get().capture;
        try {
            return result((int) EPOLL_WAIT.invokeExact(c, epfd, events, maxEvents, timeoutMillis), c);
        } catch (Throwable t) { throw unexpected(t); }
    }

    public static int eventfd(int initval, int flags) {
        MemorySegment c = LOCAL.get().capture;
        try {
            return result((int) EVENTFD.invokeExact(c, initval, flags), c);
        } catch (Throwable t) { throw unexpected(t); }
    }

    /** {@code mmap}; returns the mapping's address, or {@code -errno} (MAP_FAILED is mapped to errno). */
    public static long mmap(long addr, long length, int prot, int flags, int fd, long offset) {
        MemorySegment c = LOCAL.get().capture;
        try {
            MemorySegment r = (MemorySegment) MMAP.invokeExact(c, MemorySegment.ofAddress(addr), length, prot, flags,
                    fd, offset);
            return r.address() == -1L ? -errno(c) : r.address();
        } catch (Throwable t) { throw unexpected(t); }
    }

    public static int munmap(long addr, long length) {
        MemorySegment c = LOCAL.get().capture;
        try {
            return result((int) MUNMAP.invokeExact(c, MemorySegment.ofAddress(addr), length), c);
        } catch (Throwable t) { throw unexpected(t); }
    }

    /** {@code memfd_create(name, flags)}: an anonymous file, for memory another mapping (or the kernel) shares. */
    public static int memfdCreate(MemorySegment name, int flags) {
        MemorySegment c = LOCAL.get().capture;
        try {
            return result((int) MEMFD_CREATE.invokeExact(c, name, flags), c);
        } catch (Throwable t) { throw unexpected(t); }
    }

    /** {@code ftruncate(fd, length)}. */
    public static int ftruncate(int fd, long length) {
        MemorySegment c = LOCAL.get().capture;
        try {
            int rc;
            do rc = result((int) FTRUNCATE.invokeExact(c, fd, length), c); while (rc == -EINTR);
            return rc;
        } catch (Throwable t) { throw unexpected(t); }
    }

    public static int socket(int domain, int type, int protocol) {
        MemorySegment c = LOCAL.get().capture;
        try {
            return result((int) SOCKET.invokeExact(c, domain, type, protocol), c);
        } catch (Throwable t) { throw unexpected(t); }
    }

    public static int bind(int fd, MemorySegment addr) {
        MemorySegment c = LOCAL.get().capture;
        try {
            return result((int) BIND.invokeExact(c, fd, addr, (int) addr.byteSize()), c);
        } catch (Throwable t) { throw unexpected(t); }
    }

    /** {@code fcntl(fd, cmd, arg)} with an int argument. */
    public static int fcntl(int fd, int cmd, int arg) {
        MemorySegment c = LOCAL.get().capture;
        try {
            int rc;
            do rc = result((int) FCNTL.invokeExact(c, fd, cmd, arg), c); while (rc == -EINTR);
            return rc;
        } catch (Throwable t) { throw unexpected(t); }
    }

    /** Sets {@code O_NONBLOCK} on {@code fd} unless set; returns 0 or {@code -errno}. */
    public static int setNonBlocking(int fd) {
        int flags = fcntl(fd, VhostH.F_GETFL(), 0);
        if (flags < 0 || (flags & VhostH.O_NONBLOCK()) != 0) {
            return Math.min(flags, 0);
        }
        return fcntl(fd, VhostH.F_SETFL(), flags | VhostH.O_NONBLOCK());
    }

    /** {@code connect(fd, addr, addr.byteSize())}; EINTR is reported, not retried (the connection goes on). */
    public static int connect(int fd, MemorySegment addr) {
        MemorySegment c = LOCAL.get().capture;
        try {
            return result((int) CONNECT.invokeExact(c, fd, addr, (int) addr.byteSize()), c);
        } catch (Throwable t) { throw unexpected(t); }
    }

    /** {@code setsockopt(fd, level, name, &value, 4)} for an int option. */
    public static int setsockopt(int fd, int level, int name, int value) {
        Local l = LOCAL.get();
        MemorySegment c = l.capture;
        MemorySegment v = l.scratch.asSlice(SCRATCH_BYTES - 8, 4);
        v.set(JAVA_INT, 0, value);
        try {
            return result((int) SETSOCKOPT.invokeExact(c, fd, level, name, v, 4), c);
        } catch (Throwable t) { throw unexpected(t); }
    }

    /** {@code shutdown(fd, how)}. */
    public static int shutdown(int fd, int how) {
        MemorySegment c = LOCAL.get().capture;
        try {
            return result((int) SHUTDOWN.invokeExact(c, fd, how), c);
        } catch (Throwable t) { throw unexpected(t); }
    }

    /** {@code listen(fd, backlog)}. */
    public static int listen(int fd, int backlog) {
        MemorySegment c = LOCAL.get().capture;
        try {
            return result((int) LISTEN.invokeExact(c, fd, backlog), c);
        } catch (Throwable t) { throw unexpected(t); }
    }

    /** {@code accept4(fd, NULL, NULL, flags)}. */
    public static int accept4(int fd, int flags) {
        MemorySegment c = LOCAL.get().capture;
        try {
            int rc;
            do rc = result((int) ACCEPT4.invokeExact(c, fd, MemorySegment.NULL, MemorySegment.NULL, flags), c);
            while (rc == -EINTR);
            return rc;
        } catch (Throwable t) { throw unexpected(t); }
    }

    /** {@code sendmsg(fd, msg, flags)}. */
    public static long sendmsg(int fd, MemorySegment msg, int flags) {
        MemorySegment c = LOCAL.get().capture;
        try {
            long rc;
            do rc = result((long) SENDMSG.invokeExact(c, fd, msg, flags), c); while (rc == -EINTR);
            return rc;
        } catch (Throwable t) { throw unexpected(t); }
    }

    /** {@code recvmsg(fd, msg, flags)}. */
    public static long recvmsg(int fd, MemorySegment msg, int flags) {
        MemorySegment c = LOCAL.get().capture;
        try {
            long rc;
            do rc = result((long) RECVMSG.invokeExact(c, fd, msg, flags), c); while (rc == -EINTR);
            return rc;
        } catch (Throwable t) { throw unexpected(t); }
    }

    /** {@code getsockname(fd, addr, &len)} with {@code len} = {@code addr.byteSize()}; returns the length. */
    public static int getsockname(int fd, MemorySegment addr, MemorySegment len) {
        MemorySegment c = LOCAL.get().capture;
        try {
            len.set(JAVA_INT, 0, (int) addr.byteSize());
            int rc = result((int) GETSOCKNAME.invokeExact(c, fd, addr, len), c);
            return rc < 0 ? rc : len.get(JAVA_INT, 0);
        } catch (Throwable t) { throw unexpected(t); }
    }

    /** The C library's description of an errno value. */
    static String strerror(int errno) {
        try {
            MemorySegment s = (MemorySegment) STRERROR.invokeExact(errno);
            return s.reinterpret(256).getString(0);
        } catch (Throwable t) { throw unexpected(t); }
    }
}
