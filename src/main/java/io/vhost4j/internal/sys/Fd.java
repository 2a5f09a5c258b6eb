package io.vhost4j.internal.sys;

import io.vhost4j.VhostException;

import java.lang.foreign.Arena;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * An owned file descriptor: closed exactly once, and unusable ({@link IllegalStateException}) after.
 * The {@code name} (device path or interface) goes into every error message about it.
 */
public final class Fd implements AutoCloseable {
    private static final VarHandle FD;
    static {
        try {
            FD = MethodHandles.lookup().findVarHandle(Fd.class, "fd", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final String name;
    @SuppressWarnings("unused") // accessed through FD
    private volatile int fd;

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
        try (Arena arena = Arena.ofConfined()) {
            int fd = Sys.open(arena.allocateFrom(path), flags, 0);
            return adopt(Errno.check(fd, "open", path), path);
        }
    }

    /** The descriptor number. */
    public int get() {
        int f = fd;
        if (f < 0) {
            throw new IllegalStateException(name + " is closed");
        }
        return f;
    }

    /** Whether {@link #close()} has been called. */
    public boolean isClosed() {
        return fd < 0;
    }

    /** The device path or interface name this descriptor belongs to. */
    public String name() {
        return name;
    }

    /** Closes the descriptor; calling it again does nothing. */
    @Override
    public void close() {
        int f = (int) FD.getAndSet(this, -1);
        if (f >= 0) {
            Sys.close(f);
        }
    }

    @Override
    public String toString() {
        return "Fd[" + name + (isClosed() ? ", closed]" : ", " + fd + "]");
    }
}
