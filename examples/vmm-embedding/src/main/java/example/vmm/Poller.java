package example.vmm;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/** The VMM's own event loop primitive: poll(2) over a fixed set of descriptors, called through FFM. */
final class Poller implements AutoCloseable {
    private static final short POLLIN = 1;
    private static final long POLLFD_SIZE = 8; // struct pollfd { int fd; short events; short revents; }
    private static final MethodHandle POLL = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().findOrThrow("poll"),
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));

    private final Arena arena = Arena.ofConfined();
    private final MemorySegment fds;
    private final int count;

    Poller(int... descriptors) {
        count = descriptors.length;
        fds = arena.allocate(POLLFD_SIZE * count, 8);
        for (int i = 0; i < count; i++) {
            fds.set(JAVA_INT, i * POLLFD_SIZE, descriptors[i]);
            fds.set(JAVA_SHORT, i * POLLFD_SIZE + 4, POLLIN);
        }
    }

    /** Waits up to {@code millis} for any descriptor to be readable; returns how many are. */
    int await(int millis) {
        for (int i = 0; i < count; i++) {
            fds.set(JAVA_SHORT, i * POLLFD_SIZE + 6, (short) 0);
        }
        try {
            return Math.max(0, (int) POLL.invokeExact(fds, (long) count, millis)); // EINTR: nothing ready
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Whether descriptor {@code i} (in constructor order) was readable in the last {@link #await}. */
    boolean ready(int i) {
        return (fds.get(JAVA_SHORT, i * POLLFD_SIZE + 6) & POLLIN) != 0;
    }

    @Override
    public void close() {
        arena.close();
    }
}
