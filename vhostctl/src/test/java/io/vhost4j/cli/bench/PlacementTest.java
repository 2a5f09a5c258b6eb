package io.vhost4j.cli.bench;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code --pin}: the spec, and pinning on this host (which has no vhost worker to pin). */
class PlacementTest {

    @Test
    void aSpecIsThreeCpuNumbers() {
        assertEquals(new Placement(0, 1, 0), Placement.parse("0,1,0"));
        assertEquals(new Placement(3, 2, 1), Placement.parse(" 3, 2 ,1"));
        assertTrue(Placement.parse("0,0,0").pinned());
        assertFalse(Placement.UNPINNED.pinned());
        for (String bad : new String[] {"", "0,1", "0,1,2,3", "a,b,c", "0,-1,0", "0,1,1024", "0,,1"}) {
            assertThrows(IllegalArgumentException.class, () -> Placement.parse(bad), bad);
        }
        assertThrows(IllegalArgumentException.class, () -> new Placement(-1, 0, 0));
        assertEquals("serving thread on CPU 0, driver thread on CPU 1, vhost worker on CPU 0",
                Placement.parse("0,1,0").toString());
        assertEquals("unpinned", Placement.UNPINNED.toString());
    }

    @Test
    void unpinnedTouchesNoThread() throws Exception {
        long[] before = Affinity.get(0);
        try (Placement.Restore r = Placement.UNPINNED.apply("no-such-thread")) {
            assertArrayEquals(before, Affinity.get(0));
        }
    }

    /** The CPUs the kernel lets thread {@code tid} of this process run on, as /proc says. */
    private static String cpusAllowed(long tid) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/task/" + tid + "/status"))) {
            if (line.startsWith("Cpus_allowed_list:")) {
                return line.substring(line.indexOf(':') + 1).strip();
            }
        }
        throw new AssertionError("no Cpus_allowed_list");
    }

    @Test
    void withoutAVhostWorkerItRefusesAndGivesTheCallerItsCpusBack() throws Exception {
        long[] before = Affinity.get(0);
        String callerCpus = cpusAllowed(gettidViaProc());
        CountDownLatch done = new CountDownLatch(1);
        long[] serverTid = new long[1];
        CountDownLatch started = new CountDownLatch(1);
        Thread server = Thread.ofPlatform().name("placement-srv").start(() -> {
            serverTid[0] = gettidViaProc();
            started.countDown();
            try {
                done.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        try {
            started.await();
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> Placement.parse("0,0,0").apply("placement-srv"));
            assertTrue(e.getMessage().contains("expected one vhost worker (vhost-<id of one of this process's threads>)"
                    + " to pin, found 0"), e.getMessage());
            assertEquals("0", cpusAllowed(serverTid[0]), "the serving thread was pinned before the worker was looked for");
            assertArrayEquals(before, Affinity.get(0), "the caller has its CPUs back");
            assertEquals(callerCpus, cpusAllowed(gettidViaProc()));
        } finally {
            done.countDown();
            server.join();
        }
    }

    @Test
    void aThreadThatNeverAppearsIsNamed() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Placement.parse("0,0,0").apply("no-such-thread"));
        assertEquals("no thread named no-such-thread to pin", e.getMessage());
    }

    /** This thread's id, as /proc/thread-self names it. */
    private static long gettidViaProc() {
        try {
            return Long.parseLong(Path.of("/proc/thread-self").toRealPath().getFileName().toString());
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }
}
