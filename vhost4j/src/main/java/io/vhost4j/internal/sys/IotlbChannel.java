package io.vhost4j.internal.sys;

import java.lang.foreign.MemorySegment;

import static io.vhost4j.internal.gen.VhostH.EAGAIN;

/**
 * The device-IOTLB transport of one vhost device: the only reader and writer of IOTLB messages on its
 * descriptor (QEMU keeps this in {@code vhost-backend.c}, apart from the policy). Every call moves one whole
 * message of {@link IotlbWire#SIZE} bytes (v1 or v2 layout, the caller's choice) or reports why not: nothing,
 * an errno, or a short transfer, which the kernel should never do and which is never taken for a message.
 * Each call holds the descriptor ({@link Fd#acquire()}), so a concurrent close cannot redirect it; a run of calls
 * (the IOTLB manager's drain) holds it once for all of them: {@link #begin()}, the calls with the number it
 * returned, {@link #end()}.
 */
public final class IotlbChannel {
    /** {@link #read}: no message was queued (EAGAIN). */
    public static final long NONE = 0;
    /** {@link #read} or {@link #write}: fewer bytes than one message moved. */
    public static final long SHORT = Long.MIN_VALUE;

    private final Fd fd;
    /** Who reads this device's misses for good (an IOTLB manager's registration), or {@code null}. */
    private final java.util.concurrent.atomic.AtomicReference<Object> server =
            new java.util.concurrent.atomic.AtomicReference<>();

    /** The channel over {@code fd}, a vhost device's descriptor. */
    public IotlbChannel(Fd fd) {
        this.fd = fd;
    }

    /**
     * Reads one queued message into {@code buf} without blocking.
     *
     * @return {@link IotlbWire#SIZE}, {@link #NONE}, {@link #SHORT}, or {@code -errno}
     * @throws IllegalStateException if the device was closed
     */
    public long read(MemorySegment buf) {
        int held = begin();
        try {
            return read(held, Sys.local(), buf);
        } finally {
            end();
        }
    }

    /** {@link #read(MemorySegment)} inside a run: {@code held} is what {@link #begin()} returned. */
    public long read(int held, Sys.Local local, MemorySegment buf) {
        long n = Sys.read(local, held, buf, IotlbWire.SIZE);
        if (n == -EAGAIN()) {
            return NONE;
        }
        return n >= 0 && n != IotlbWire.SIZE ? SHORT : n;
    }

    /**
     * Writes the message in {@code msg}.
     *
     * @return {@link IotlbWire#SIZE}, {@link #SHORT}, or {@code -errno}
     * @throws IllegalStateException if the device was closed
     */
    public long write(MemorySegment msg) {
        int held = begin();
        try {
            return write(held, Sys.local(), msg);
        } finally {
            end();
        }
    }

    /**
     * {@link #write(MemorySegment)}, a failure thrown: the errno as the {@link io.vhost4j.VhostException} of
     * {@code operation} on {@code device}, a short write as an {@link IllegalStateException}.
     */
    public void writeOrThrow(MemorySegment msg, String operation, String device) throws io.vhost4j.VhostException {
        long n = write(msg);
        if (n == SHORT) {
            throw new IllegalStateException("short IOTLB write to " + device);
        }
        Errors.check(n, operation, device);
    }

    /** {@link #write(MemorySegment)} inside a run: {@code held} is what {@link #begin()} returned. */
    public long write(int held, Sys.Local local, MemorySegment msg) {
        long n = Sys.write(local, held, msg, IotlbWire.SIZE);
        return n >= 0 && n != IotlbWire.SIZE ? SHORT : n;
    }

    /**
     * Makes {@code who} the one server of this device's misses: two readers would each take some of the misses the
     * other waits for.
     *
     * @return false if another one serves it
     */
    public boolean claim(Object who) {
        return server.compareAndSet(null, who);
    }

    /** Ends {@code who}'s {@link #claim}; nothing if it does not hold it. */
    public void release(Object who) {
        server.compareAndSet(who, null);
    }

    /** Whether some server {@linkplain #claim claimed} this device's misses. */
    public boolean isClaimed() {
        return server.get() != null;
    }

    /**
     * Starts a run of calls: holds the descriptor until {@link #end()} and returns its number for them.
     *
     * @throws IllegalStateException if the device was closed
     */
    public int begin() {
        return fd.acquire();
    }

    /** Ends the run {@link #begin()} started. */
    public void end() {
        fd.release();
    }

    /** The descriptor, for readiness (epoll) only: bracket its use with {@link Fd#acquire()}/{@link Fd#release()}. */
    public Fd fd() {
        return fd;
    }

    /** What a result other than a whole message means, for faults and errors: "short" or the errno's name. */
    public static String describe(long rc) {
        return rc == SHORT ? "short transfer" : rc == NONE ? "nothing queued" : Errors.name((int) -rc);
    }
}
