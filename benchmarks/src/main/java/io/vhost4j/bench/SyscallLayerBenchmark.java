package io.vhost4j.bench;

import io.vhost4j.internal.sys.Fd;
import io.vhost4j.internal.sys.Sys;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * What the syscall layer adds to an ioctl, layer by layer, on a descriptor every host has ({@code FIONREAD} on a
 * pipe, which succeeds): the bare downcall, with errno capture ({@link Sys#ioctl}), and on an owned descriptor with
 * in-flight tracking ({@link Fd#ioctl}). Runs without vhost, so it isolates the Java side on real hardware.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class SyscallLayerBenchmark {
    private static final long FIONREAD = 0x541B;
    private static final MethodHandle BARE = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().findOrThrow("ioctl"),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle PIPE = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().findOrThrow("pipe"), FunctionDescriptor.of(JAVA_INT, ADDRESS));

    private final Arena arena = Arena.ofConfined();
    private final MemorySegment out = arena.allocate(JAVA_LONG);
    private Fd read, write;
    private int fd;
    private Sys.Local local;

    @Setup
    public void open() throws Throwable {
        MemorySegment fds = arena.allocate(JAVA_INT, 2);
        if ((int) PIPE.invokeExact(fds) != 0) {
            throw new IllegalStateException("pipe() failed");
        }
        read = Fd.adopt(fds.getAtIndex(JAVA_INT, 0), "pipe");
        write = Fd.adopt(fds.getAtIndex(JAVA_INT, 1), "pipe");
        fd = read.number();
        local = Sys.local();
        if (Sys.ioctl(local, fd, FIONREAD, local.scratch()) != 0) {
            throw new IllegalStateException("FIONREAD on a pipe failed");
        }
    }

    @TearDown
    public void close() {
        read.close();
        write.close();
        arena.close();
    }

    /** The floor: a bare downcall, errno not captured. */
    @Benchmark
    public int bare() throws Throwable {
        return (int) BARE.invokeExact(fd, FIONREAD, out);
    }

    /** With errno captured ({@code captureCallState}) and EINTR retried. */
    @Benchmark
    public int captured() {
        return Sys.ioctl(local, fd, FIONREAD, local.scratch());
    }

    /** On an owned descriptor: acquire, the captured call, release (what every device call does). */
    @Benchmark
    public int owned() {
        return read.ioctl(local, FIONREAD, local.scratch());
    }

    /** As {@link #owned()}, looking this thread's buffers up as the device calls do. */
    @Benchmark
    public int ownedWithLookup() {
        Sys.Local l = Sys.local();
        return read.ioctl(l, FIONREAD, l.scratch());
    }
}
