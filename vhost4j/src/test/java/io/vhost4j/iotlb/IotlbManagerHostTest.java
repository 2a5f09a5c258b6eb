package io.vhost4j.iotlb;

import io.vhost4j.MemoryTable;
import io.vhost4j.VhostException;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the manager does without any device (epoll and an eventfd are all it needs): checks and life cycle. */
class IotlbManagerHostTest {
    private static final Translator NONE = (iova, access, out) -> false;

    @Test
    void argumentsAreCheckedBeforeAnythingHappens() throws VhostException {
        try (IotlbManager m = IotlbManager.create(null)) {
            assertThrows(IllegalArgumentException.class, () -> m.processReady(-2));
            assertEquals(0, m.processReady(0), "no device: nothing to serve");
            assertEquals(0, m.processReady(1), "a timeout that expires");
            NullPointerException e = assertThrows(NullPointerException.class,
                    () -> m.register(null, MemoryTable.empty(), NONE));
            assertTrue(e.getMessage().contains("device"), e.getMessage());
            assertTrue(m.devices().isEmpty());
            assertThrows(IllegalArgumentException.class, () -> m.invalidateAll(0, 0), "as with devices: a bad range");
            assertThrows(IllegalArgumentException.class, () -> m.invalidateAll(-4096, 8192));
            m.invalidateAll(0, 4096);
        }
    }

    @Test
    void closeStopsTheLoopAtOnceAndRefusesWhatComesAfter() throws Exception {
        IotlbManager m = IotlbManager.create(null);
        m.start();
        assertTrue(m.isLoopAlive());
        assertThrows(IllegalStateException.class, m::start);
        long t0 = System.nanoTime();
        m.close(); // the loop waits up to 1 s in epoll_wait: close must wake it, not wait for the timeout
        assertTrue(System.nanoTime() - t0 < 900_000_000L, "close waited for the loop's timeout");
        assertFalse(m.isLoopAlive());
        assertEquals(null, m.loopFailure());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> m.processReady(0));
        assertEquals("IOTLB manager is closed", e.getMessage());
        assertThrows(IllegalStateException.class, () -> m.invalidateAll(0, 4096));
        assertThrows(IllegalArgumentException.class, () -> m.invalidateAll(0, 0), "a bad range is still named");
        assertThrows(IllegalStateException.class, m::fd);
        assertThrows(IllegalStateException.class, m::start);
        assertThrows(IllegalStateException.class, () -> m.register(null, MemoryTable.empty(), NONE));
        m.close(); // again: nothing
    }

    @Test
    void aPollingLoopIsCheckedAndSleepsWhileNoDeviceMisses() throws Exception {
        try (IotlbManager m = IotlbManager.create(null)) {
            assertThrows(NullPointerException.class, () -> m.start(null));
            assertThrows(IllegalArgumentException.class, () -> m.start(Duration.ofNanos(-1)));
            assertThrows(IllegalArgumentException.class, () -> m.start(IotlbManager.MAX_POLL.plusNanos(1)));
            assertFalse(m.isLoopAlive(), "a refused start starts nothing");
            m.start(IotlbManager.MAX_POLL);
            assertTrue(m.isLoopAlive());
            assertThrows(IllegalStateException.class, () -> m.start(Duration.ZERO));
            // It polls only after a miss: without one, the thread sleeps in epoll_wait. A spinning loop would use a
            // whole core: about 500 ms of this process's CPU time in the 500 ms below (the library reads java.base
            // only, so the process's CPU time is what this test can see).
            Duration cpu0 = processCpu();
            Thread.sleep(500);
            long usedMillis = processCpu().minus(cpu0).toMillis();
            assertTrue(usedMillis < 300, "the process used " + usedMillis + " ms of CPU in 500 ms of an idle loop");
            long t0 = System.nanoTime();
            m.close();
            assertTrue(System.nanoTime() - t0 < 900_000_000L, "close waited for the loop's timeout");
            assertFalse(m.isLoopAlive());
            assertEquals(null, m.loopFailure());
        }
    }

    private static Duration processCpu() {
        return ProcessHandle.current().info().totalCpuDuration().orElseThrow();
    }
}
