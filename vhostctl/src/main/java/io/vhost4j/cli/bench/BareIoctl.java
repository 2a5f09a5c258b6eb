package io.vhost4j.cli.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The floor of any FFM ioctl: a bare variadic downcall of {@code ioctl(fd, VHOST_GET_FEATURES, &u64)}, without
 * errno capture, checks or objects. What the library's call costs above this is the library's own overhead.
 */
public final class BareIoctl implements AutoCloseable {
    /** {@code _IOR(VHOST_VIRTIO, 0x00, __u64)}; {@link #get} is checked against the library's result. */
    public static final long VHOST_GET_FEATURES = 0x8008AF00L;
    private static final MethodHandle IOCTL = ioctl();
    /** The same downcall capturing errno, as any call that reports its failure must. */
    private static final MethodHandle IOCTL_ERRNO = ioctl(Linker.Option.captureCallState("errno"));

    /** {@code ioctl(int, long, void *)} as a variadic downcall, with {@code extra} linker options. */
    private static MethodHandle ioctl(Linker.Option... extra) {
        Linker.Option[] options = java.util.Arrays.copyOf(extra, extra.length + 1);
        options[extra.length] = Linker.Option.firstVariadicArg(2);
        return Linker.nativeLinker().downcallHandle(Linker.nativeLinker().defaultLookup().findOrThrow("ioctl"),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), options);
    }

    private final Arena arena = Arena.ofConfined();
    private final MemorySegment out = arena.allocate(JAVA_LONG);
    private final MemorySegment capture = arena.allocate(Linker.Option.captureStateLayout());

    /** One call; returns the ioctl's result (0, or -1 with errno unread). */
    public int call(int fd) {
        try {
            return (int) IOCTL.invokeExact(fd, VHOST_GET_FEATURES, out);
        } catch (Throwable t) {
            throw new IllegalStateException("ioctl downcall failed", t);
        }
    }

    /** One call capturing errno (left in the capture buffer, unread); returns the ioctl's result. */
    public int callCapturingErrno(int fd) {
        try {
            return (int) IOCTL_ERRNO.invokeExact(capture, fd, VHOST_GET_FEATURES, out);
        } catch (Throwable t) {
            throw new IllegalStateException("ioctl downcall failed", t);
        }
    }

    /** One call, returning the feature bits it read (throws if the ioctl failed). */
    public long get(int fd) {
        if (call(fd) != 0) {
            throw new IllegalStateException("bare ioctl(VHOST_GET_FEATURES) failed");
        }
        return out.get(JAVA_LONG, 0);
    }

    @Override
    public void close() {
        arena.close();
    }
}
