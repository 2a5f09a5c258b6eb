package io.vhost4j;

import io.vhost4j.internal.sys.Deadline;
import io.vhost4j.internal.sys.Errors;
import io.vhost4j.internal.sys.Fd;
import io.vhost4j.internal.sys.Sys;

import java.lang.foreign.MemorySegment;
import java.time.Duration;

import static io.vhost4j.internal.gen.VhostH.*;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A non-blocking Linux eventfd: what vhost uses for kick, call and error notifications
 * ({@code VHOST_SET_VRING_KICK/CALL/ERR}) and for the dirty log.
 */
public final class EventFd implements AutoCloseable {
    static {
        io.vhost4j.internal.access.DeviceHandles.registerEventFd(e -> e.fd);
    }

    private final Fd fd;

    private EventFd(Fd fd) {
        this.fd = fd;
    }

    /** A new eventfd with counter 0, non-blocking and close-on-exec. */
    public static EventFd create() throws VhostException {
        int f = Sys.eventfd(0, EFD_NONBLOCK() | EFD_CLOEXEC());
        return new EventFd(Fd.adopt(Errors.check(f, "eventfd", "eventfd"), "eventfd"));
    }

    /** Adds 1 to the counter, waking whoever waits on it. */
    public void signal() throws VhostException {
        MemorySegment buf = Sys.scratch();
        buf.set(JAVA_LONG, 0, 1L);
        Errors.check(fd.write(buf, 8), "write", "eventfd");
    }

    /** Reads and resets the counter: the number of signals since the last read, 0 if none. */
    public long drain() throws VhostException {
        MemorySegment buf = Sys.scratch();
        long rc = fd.read(buf, 8);
        if (rc == -EAGAIN()) {
            return 0;
        }
        Errors.check(rc, "read", "eventfd");
        return buf.get(JAVA_LONG, 0);
    }

    /**
     * Waits until the counter is non-zero or {@code timeout} passes (zero or negative: does not wait), then
     * {@linkplain #drain() drains} it. The wait is a system call: a virtual thread pins its carrier meanwhile.
     *
     * @return the counter read, or 0 on timeout
     */
    public long await(Duration timeout) throws VhostException {
        Deadline deadline = Deadline.after(timeout);
        while (true) {
            long n = drain();
            if (n != 0) {
                return n;
            }
            if (deadline.passed()) {
                return 0;
            }
            // Slices of at most 100 ms: a close() from another thread ends the wait soon after.
            Errors.check(fd.pollIn(Math.max(1, deadline.millisLeft(100))), "poll", "eventfd");
        }
    }

    /**
     * The raw descriptor number, e.g. for the caller's own epoll set or poll loop; the library's own calls
     * ({@link VhostDevice#setVringKick} and the like) take the {@code EventFd} itself.
     */
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

    @Override
    public void close() {
        fd.close();
    }

    @Override
    public String toString() {
        return "EventFd[" + (fd.isClosed() ? "closed" : fd.number()) + "]";
    }
}
