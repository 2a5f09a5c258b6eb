package io.vhost4j.internal.sys;

import io.vhost4j.internal.gen.VhostH;
import org.junit.jupiter.api.Test;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The syscall layer and signals: an ioctl with the thread's signals held back returns the ioctl's result and leaves
 * the mask as it was; a wait for a readable descriptor is not cut short by signals.
 */
class SignalsTest {

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle GETTID = LINKER.downcallHandle(
            LINKER.defaultLookup().find("gettid").orElseThrow(), FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle TGKILL = LINKER.downcallHandle(LINKER.defaultLookup().find("tgkill")
            .orElseThrow(), FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    /** HotSpot's suspend/resume signal (JFR's sampler sends it): the JVM handles it, with SA_RESTART. */
    private static final int SIGUSR2 = 12;

    private static String blocked() throws Exception {
        return Files.readAllLines(Path.of("/proc/thread-self/status")).stream()
                .filter(l -> l.startsWith("SigBlk:")).findFirst().orElseThrow();
    }

    @Test
    void theCallsResultComesBackAndTheMaskIsRestored() throws Exception {
        int fd = Sys.eventfd(0, 0);
        assertTrue(fd >= 0, "eventfd: " + fd);
        try {
            String before = blocked();
            for (int i = 0; i < 3; i++) {
                int rc = Sys.ioctlSignalsBlocked(Sys.local(), fd, VhostH.VHOST_GET_FEATURES(), Sys.scratch());
                assertEquals(-VhostH.ENOTTY(), rc, "an eventfd has no vhost ioctls");
                assertEquals(before, blocked());
            }
            assertEquals(-VhostH.EBADF(), Sys.ioctlSignalsBlocked(Sys.local(), -1, VhostH.VHOST_GET_FEATURES(),
                    Sys.scratch()));
            assertEquals(before, blocked());
        } finally {
            Sys.close(fd);
        }
    }

    @Test
    void aWaitForAReadableDescriptorLastsItsTimeWhileTheThreadIsSignalled() throws Throwable {
        int tid = (int) GETTID.invokeExact();
        int pid = (int) ProcessHandle.current().pid();
        AtomicInteger sent = new AtomicInteger();
        try (Fd fd = Fd.adopt(Sys.eventfd(0, 0), "eventfd")) {
            Thread signaller = Thread.ofPlatform().start(() -> {
                long end = System.nanoTime() + 300_000_000L;
                try {
                    while (System.nanoTime() < end) {
                        if ((int) TGKILL.invokeExact(pid, tid, SIGUSR2) == 0) {
                            sent.incrementAndGet();
                        }
                        Thread.sleep(0, 200_000);
                    }
                } catch (Throwable t) {
                    throw new AssertionError(t);
                }
            });
            long t0 = System.nanoTime();
            assertFalse(fd.awaitReadable(Deadline.after(Duration.ofMillis(250)), "test"), "nothing to read");
            long waited = System.nanoTime() - t0;
            signaller.join();
            assertTrue(waited >= 250_000_000L, "waited " + waited / 1_000_000 + " ms of 250");
            assertTrue(sent.get() > 50, "signals sent: " + sent.get());
            assertEquals(0, Sys.write(fd.number(), eightBytesOfOne(), 8) - 8, "the eventfd signalled");
            assertTrue(fd.awaitReadable(Deadline.after(Duration.ofMillis(250)), "test"), "readable at once");
        }
    }

    private static java.lang.foreign.MemorySegment eightBytesOfOne() {
        java.lang.foreign.MemorySegment s = Sys.scratch();
        s.set(java.lang.foreign.ValueLayout.JAVA_LONG, 0, 1);
        return s;
    }
}
