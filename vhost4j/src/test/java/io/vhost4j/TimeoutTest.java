package io.vhost4j;

import io.vhost4j.internal.sys.Deadline;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every public wait reads its {@link Duration} alike ({@link Deadline}): {@code null} refused by name, zero or
 * negative does not wait, one too long for nanoseconds waits (and does not throw ArithmeticException).
 */
class TimeoutTest {
    private static final Duration HANG = Duration.ofSeconds(60); // far above any answer here: a hang fails the test

    @Test
    void aDeadlineSaturatesAndNeverWaitsForZeroOrLess() {
        assertEquals(0, Deadline.after(Duration.ofMillis(-5)).nanosLeft());
        assertTrue(Deadline.after(Duration.ZERO).passed());
        assertEquals(0, Deadline.after(Duration.ofSeconds(-1)).millisLeft(100));
        Deadline forever = Deadline.after(ChronoUnit.FOREVER.getDuration());
        assertFalse(forever.passed());
        assertTrue(forever.nanosLeft() > Duration.ofDays(365 * 100).toNanos(), "about 146 years");
        assertEquals(Integer.MAX_VALUE, forever.millisLeft(Integer.MAX_VALUE));
        assertEquals(100, Deadline.after(Duration.ofSeconds(30)).millisLeft(100), "capped");
        int left = Deadline.after(Duration.ofMillis(50)).millisLeft(1000);
        assertTrue(left > 0 && left <= 50, left + " ms: at most what is left, rounded up");
        assertEquals("timeout", assertThrows(NullPointerException.class, () -> Deadline.after(null)).getMessage());
    }

    @Test
    void anEventFdWaitReadsItsTimeoutAlike() throws Exception {
        try (EventFd e = EventFd.create()) {
            assertTimeoutPreemptively(HANG, () -> assertEquals(0, e.await(Duration.ofMillis(-1))));
            e.signal();
            assertEquals(1, e.await(ChronoUnit.FOREVER.getDuration()));
            e.signal();
            e.signal();
            assertEquals(2, e.await(Duration.ofMillis(-1)), "a counter already set is read without waiting");
            assertEquals("timeout", assertThrows(NullPointerException.class, () -> e.await(null)).getMessage());
        }
    }

    @Test
    void receivingDescriptorsWithANegativeTimeoutDoesNotWaitForever() throws Exception {
        Path dir = Files.createTempDirectory("vhost4j-timeout");
        Path socket = dir.resolve("fds.sock");
        try {
            VhostException e = assertTimeoutPreemptively(HANG, () -> assertThrows(VhostException.class,
                    () -> FdPassing.receive(socket, Duration.ofMillis(-1))));
            assertEquals(Errno.ETIMEDOUT, e.errno());
            assertFalse(Files.exists(socket), "the socket file is removed again");
            assertThrows(NullPointerException.class, () -> FdPassing.receive(socket, null));
            assertFalse(Files.exists(socket), "a null timeout is refused before the socket is made");
            try (EventFd fd = EventFd.create()) {
                VhostException c = assertTimeoutPreemptively(HANG, () -> assertThrows(VhostException.class,
                        () -> FdPassing.send(socket, Map.of("e", fd), Duration.ofSeconds(-3))));
                assertEquals(Errno.ENOENT, c.errno(), "one attempt to connect, nobody listens");
            }
        } finally {
            Files.deleteIfExists(socket);
            Files.delete(dir);
        }
    }
}
