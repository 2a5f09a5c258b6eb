package io.vhost4j.internal.sys;

import io.vhost4j.VhostException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * An owned file descriptor, safe to close while other threads use it.
 *
 * <p>Every use is bracketed by {@link #acquire()} and {@link #release()} ({@link #read}, {@link #write},
 * {@link #ioctl} and {@link #pollIn} do it for one syscall). {@link #close()} makes every later
 * {@code acquire} throw {@link IllegalStateException} at once, but the descriptor itself is closed only when
 * the last call in flight has released it: until then its number stays allocated to this file, so no call
 * in flight can reach a file that reused the number (the JDK's channels get the same guarantee by
 * {@code dup2}-ing a dead descriptor over the number). The {@code name} (device path or interface) goes into
 * every error message about it.
 */
public final class Fd implements AutoCloseable {
    private static final int CLOSED = 0x8000_0000; // state bit: close() was called; low bits: calls in flight
    private static final VarHandle STATE;
    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(Fd.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final int fd;
    private final String name;
    @SuppressWarnings("unused") // accessed through STATE
    private volatile int state;

    private Fd(int fd, String name) {
        this.fd = fd;
        this.name = name;
    }

    /** Takes ownership of {@code fd}, the result of a successful syscall. */
    public static Fd adopt(int fd, String name) {
        if (fd < 0) {
            throw new IllegalArgumentException("not a file descriptor: " + fd);
        }
        return new Fd(fd, name);
    }

    /** Opens {@code path} with {@code open(2)} flags; a failure throws with the path in its message. */
    public static Fd open(String path, int flags) throws VhostException {
        java.util.Objects.requireNonNull(path, "path");
        if (path.isEmpty() || path.indexOf('\0') >= 0) {
            throw new IllegalArgumentException(path.isEmpty() ? "empty path" : "a path with a NUL character would"
                    + " open another file: " + path.replace('\0', '@'));
        }
        try (Arena arena = Arena.ofConfined()) {
            int fd = Sys.open(arena.allocateFrom(path), flags, 0);
            return adopt(Errors.check(fd, "open", path), path);
        }
    }

    /**
     * Starts a call on the descriptor: returns its number, which stays this file's until {@link #release()}.
     *
     * @throws IllegalStateException if the descriptor was closed
     */
    public int acquire() {
        while (true) {
            int s = state;
            if ((s & CLOSED) != 0) {
                throw new IllegalStateException(name + " is closed");
            }
            if (s == Integer.MAX_VALUE) {
                throw new IllegalStateException("too many calls in flight on " + name);
            }
            if (STATE.weakCompareAndSet(this, s, s + 1)) {
                return fd;
            }
        }
    }

    /** Ends a call started by {@link #acquire()}; the last one out after {@link #close()} closes the descriptor. */
    public void release() {
        int s = (int) STATE.getAndAdd(this, -1) - 1;
        if (s == CLOSED) {
            Sys.close(fd);
        }
    }

    /** {@link Sys#read(int, MemorySegment, long)} as one call on this descriptor. */
    public long read(MemorySegment buf, long count) {
        int f = acquire();
        try {
            return Sys.read(f, buf, count);
        } finally {
            release();
        }
    }

    /** {@link Sys#write(int, MemorySegment, long)} as one call on this descriptor. */
    public long write(MemorySegment buf, long count) {
        int f = acquire();
        try {
            return Sys.write(f, buf, count);
        } finally {
            release();
        }
    }

    /** {@link Sys#ioctl(Sys.Local, int, long, MemorySegment)} as one call on this descriptor. */
    public int ioctl(Sys.Local local, long request, MemorySegment arg) {
        int f = acquire();
        try {
            return Sys.ioctl(local, f, request, arg);
        } finally {
            release();
        }
    }

    /** {@link Sys#ioctlSignalsBlocked(Sys.Local, int, long, MemorySegment)} as one call on this descriptor. */
    public int ioctlSignalsBlocked(Sys.Local local, long request, MemorySegment arg) {
        int f = acquire();
        try {
            return Sys.ioctlSignalsBlocked(local, f, request, arg);
        } finally {
            release();
        }
    }

    /**
     * Waits until this descriptor is readable or {@code deadline} passes, whatever signals the thread receives
     * meanwhile ({@code poll} returns EINTR for them, whatever the handler's flags, and that is not the end of the wait).
     *
     * @return true if readable, false once the deadline passed
     * @throws VhostException if {@code poll} fails ({@code operation} names what was waited for)
     */
    public boolean awaitReadable(Deadline deadline, String operation) throws VhostException {
        while (true) {
            if (Errors.check(pollIn(deadline.millisLeft(Integer.MAX_VALUE)), "poll(" + operation + ")", name) > 0) {
                return true;
            }
            if (deadline.passed()) {
                return false;
            }
        }
    }

    /** {@link Sys#pollIn(int, int)} as one call on this descriptor. */
    public int pollIn(int timeoutMillis) {
        int f = acquire();
        try {
            return Sys.pollIn(f, timeoutMillis);
        } finally {
            release();
        }
    }

    /**
     * The number, without starting a call: for handing to code outside this library (an epoll set, a VMM's
     * own loop), which must stop using it before {@link #close()}.
     *
     * @throws IllegalStateException if the descriptor was closed
     */
    public int number() {
        if (isClosed()) {
            throw new IllegalStateException(name + " is closed");
        }
        return fd;
    }

    /** Whether {@link #close()} has been called. */
    public boolean isClosed() {
        return (state & CLOSED) != 0;
    }

    /** The device path or interface name this descriptor belongs to. */
    public String name() {
        return name;
    }

    /**
     * Refuses new calls at once, and closes the descriptor now if no call is in flight, else when the last one
     * ends. Calling it again does nothing.
     */
    @Override
    public void close() {
        int before = (int) STATE.getAndBitwiseOr(this, CLOSED);
        if (before == 0) {
            Sys.close(fd);
        }
    }

    @Override
    public String toString() {
        return "Fd[" + name + (isClosed() ? ", closed]" : ", " + fd + "]");
    }
}
