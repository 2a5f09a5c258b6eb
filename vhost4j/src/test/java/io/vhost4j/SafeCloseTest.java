package io.vhost4j;

import io.vhost4j.internal.sys.Fd;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A close racing other threads' calls never lets a call reach a descriptor that reused the number. */
class SafeCloseTest {

    private static boolean isOpen(int fd) {
        return Files.exists(Path.of("/proc/self/fd/" + fd), java.nio.file.LinkOption.NOFOLLOW_LINKS);
    }

    @Test
    void theNumberStaysAllocatedUntilTheLastCallInFlightEnds() throws Exception {
        try (EventFd e = EventFd.create()) {
            int n = e.fd();
            Fd fd = e.handle();
            assertEquals(n, fd.acquire()); // a call in flight
            e.close();
            assertThrows(IllegalStateException.class, fd::acquire, "no new calls after close");
            assertThrows(IllegalStateException.class, e::signal);
            assertTrue(isOpen(n), "still open while a call is in flight: the number cannot be reused");
            try (EventFd other = EventFd.create()) {
                assertTrue(other.fd() != n, "a new descriptor does not get the number of one still in use");
            }
            fd.release();
            assertFalse(isOpen(n), "closed when the last call ended");
        }
    }

    @Test
    void closingWhileThreadsSignalNeverSignalsAForeignEventFd() throws Exception {
        for (int round = 0; round < 20; round++) {
            EventFd victim = EventFd.create();
            AtomicLong closedSeen = new AtomicLong();
            ConcurrentLinkedQueue<Throwable> wrong = new ConcurrentLinkedQueue<>();
            List<Thread> hammers = new ArrayList<>();
            for (int t = 0; t < 3; t++) {
                hammers.add(Thread.ofPlatform().start(() -> {
                    while (true) { // until the close: every hammer must see it
                        try {
                            victim.signal();
                        } catch (IllegalStateException closed) {
                            closedSeen.incrementAndGet();
                            return;
                        } catch (Throwable other) { // e.g. EBADF: the call reached a closed number
                            wrong.add(other);
                            return;
                        }
                    }
                }));
            }
            Thread.sleep(2);
            victim.close();
            List<EventFd> fresh = new ArrayList<>();
            for (int i = 0; i < 50; i++) { // take the freed numbers while the hammers may still be running
                fresh.add(EventFd.create());
            }
            for (Thread h : hammers) {
                h.join();
            }
            for (EventFd f : fresh) {
                assertEquals(0, f.drain(), "a signal meant for the closed eventfd reached a new one");
                f.close();
            }
            assertTrue(wrong.isEmpty(), "callers must see IllegalStateException, got " + wrong);
            assertEquals(3, closedSeen.get(), "every hammer saw the close");
        }
    }
}
