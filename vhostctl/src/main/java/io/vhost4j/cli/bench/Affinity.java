package io.vhost4j.cli.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A thread's CPU affinity ({@code sched_setaffinity}/{@code sched_getaffinity} on a thread id, 0 for the calling
 * thread), for {@link Placement}. Masks are of {@link #MAX_CPUS} CPUs.
 */
final class Affinity {
    private Affinity() {}

    /** The CPUs a mask holds (glibc's {@code cpu_set_t}). */
    static final int MAX_CPUS = 1024;
    private static final long MASK_BYTES = MAX_CPUS / 8;
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(StructLayout.PathElement.groupElement("errno"));
    private static final MethodHandle SET = downcall("sched_setaffinity");
    private static final MethodHandle GET = downcall("sched_getaffinity");

    private static MethodHandle downcall(String name) {
        Linker linker = Linker.nativeLinker();
        return linker.downcallHandle(linker.defaultLookup().findOrThrow(name),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), Linker.Option.captureCallState("errno"));
    }

    /** Lets thread {@code tid} run on {@code cpu} only, and checks that the kernel says so afterwards. */
    static void pin(int tid, int cpu) {
        if (cpu < 0 || cpu >= MAX_CPUS) {
            throw new IllegalArgumentException("CPU " + cpu + " is not in 0.." + (MAX_CPUS - 1));
        }
        long[] mask = new long[MAX_CPUS / 64];
        mask[cpu / 64] = 1L << (cpu % 64);
        set(tid, mask);
        if (!java.util.Arrays.equals(get(tid), mask)) {
            throw new IllegalStateException("thread " + (tid == 0 ? "(this one)" : tid) + " was pinned to CPU " + cpu
                    + ", and the kernel says it may run elsewhere");
        }
    }

    /** The CPUs thread {@code tid} may run on, as a mask of {@link #MAX_CPUS} bits. */
    static long[] get(int tid) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = a.allocate(MASK_BYTES, 8), capture = a.allocate(CAPTURE);
            if ((int) GET.invokeExact(capture, tid, MASK_BYTES, m) < 0) {
                throw failure("sched_getaffinity", tid, capture);
            }
            return m.toArray(JAVA_LONG);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Lets thread {@code tid} run on the CPUs of {@code mask} (from {@link #get}). */
    static void set(int tid, long[] mask) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = a.allocate(MASK_BYTES, 8), capture = a.allocate(CAPTURE);
            MemorySegment.copy(mask, 0, m, JAVA_LONG, 0, mask.length);
            if ((int) SET.invokeExact(capture, tid, MASK_BYTES, m) < 0) {
                throw failure("sched_setaffinity", tid, capture);
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static IllegalStateException failure(String call, int tid, MemorySegment capture) {
        int errno = (int) ERRNO.get(capture, 0L);
        io.vhost4j.Errno named = io.vhost4j.Errno.of(errno); // the library's one errno table
        return new IllegalStateException(call + " of thread " + (tid == 0 ? "(this one)" : tid) + " failed: "
                + (named == io.vhost4j.Errno.OTHER ? "errno " + errno : named.name())
                + (named == io.vhost4j.Errno.EINVAL ? " (no CPU of the mask is online and allowed)" : ""));
    }
}
