package io.vhost4j.cli.bench;

import io.vhost4j.Access;
import io.vhost4j.EventFd;
import io.vhost4j.IotlbMessage;
import io.vhost4j.IotlbType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.File;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.IntUnaryOperator;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The plain-C side of the benchmarks ({@code native/cbench.c}, built here with gcc as {@code ci/bench} builds it)
 * serving misses on one end of a {@code SOCK_SEQPACKET} socket pair, the test playing the kernel on the other: the
 * UPDATE each MISS gets, the misses it refuses, and the counters its figures come from (answered, refused, and the
 * duplicates it counts as the Java manager counts its own). Without gcc it skips, except under CI ({@code CI=true}).
 */
class CLoopTest {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle SOCKETPAIR = downcall("socketpair",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle READ = downcall("read",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle WRITE = downcall("write",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle POLL = downcall("poll",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle CLOSE = downcall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final int AF_UNIX = 1, SOCK_SEQPACKET = 5, SOCK_NONBLOCK = 04000, SOCK_CLOEXEC = 02000000;
    private static final int POLLIN = 1;
    private static final int MSG_V1 = 1, MSG_V2 = 2; // VHOST_IOTLB_MSG, VHOST_IOTLB_MSG_V2

    // the offset vIOMMU of the one-device rounds: IOVA = GPA + OFFSET over [GPA_BASE, GPA_BASE + SIZE) at USER_BASE
    private static final long OFFSET = 0x1_0000_0000L, GPA_BASE = 0x10_0000, SIZE = 1 << 20,
            USER_BASE = 0x7f00_0000_0000L;
    private static final long PAGE = 4096;

    private static Path dir;
    private static CLoop c;

    private static MethodHandle downcall(String name, FunctionDescriptor d) {
        return LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow(name), d);
    }

    @BeforeAll
    static void build() throws Exception {
        boolean gcc = false;
        for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            gcc |= !d.isEmpty() && Files.isExecutable(Path.of(d, "gcc"));
        }
        if (!gcc && "true".equals(System.getenv("CI"))) {
            fail("the C benchmark loop needs gcc (apt-get install gcc)");
        }
        assumeTrue(gcc, "gcc missing: the C benchmark loop is not tested");
        dir = Files.createTempDirectory("cbench");
        Path so = dir.resolve("libvhost4j-cbench.so");
        Process p = new ProcessBuilder("gcc", "-O2", "-Wall", "-Werror", "-shared", "-fPIC", "-o", so.toString(),
                Path.of("..", "native", "cbench.c").toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), "gcc: " + out);
        c = new CLoop(so);
    }

    @AfterAll
    static void unload() throws Exception {
        if (c != null) {
            c.close();
        }
        if (dir != null) {
            try (var files = Files.list(dir)) {
                for (Path f : files.toList()) {
                    Files.delete(f);
                }
            }
            Files.delete(dir);
        }
    }

    /** A socket pair standing in for a vhost fd: the C loop serves {@code loop}, the test plays the kernel on
     * {@code kernel}. */
    private record Pair(int loop, int kernel) implements AutoCloseable {
        static Pair open() throws Throwable {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment sv = a.allocate(JAVA_INT, 2);
                int rc = (int) SOCKETPAIR.invokeExact(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv);
                assertEquals(0, rc, "socketpair");
                return new Pair(sv.getAtIndex(JAVA_INT, 0), sv.getAtIndex(JAVA_INT, 1));
            }
        }

        void send(IotlbMessage m) throws Throwable {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment buf = a.allocate(IotlbMessage.BYTES);
                m.encode(buf, true);
                assertEquals(IotlbMessage.BYTES, (long) WRITE.invokeExact(kernel, buf, (long) IotlbMessage.BYTES));
            }
        }

        /** The next message the loop wrote, with its wire type (v1 or v2) first, or {@code null} after the timeout. */
        Reply receive(Duration timeout) throws Throwable {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment pfd = a.allocate(8, 4);
                pfd.set(JAVA_INT, 0, kernel);
                pfd.set(JAVA_SHORT, 4, (short) POLLIN);
                int n = (int) POLL.invokeExact(pfd, 1L, (int) timeout.toMillis());
                if (n == 0) {
                    return null;
                }
                MemorySegment buf = a.allocate(128);
                long r = (long) READ.invokeExact(kernel, buf, 128L);
                assertEquals(IotlbMessage.BYTES, r, "one whole message");
                return new Reply(buf.get(JAVA_INT, 0), IotlbMessage.decode(buf));
            }
        }

        @Override
        public void close() throws Exception {
            int a, b;
            try {
                a = (int) CLOSE.invokeExact(loop);
                b = (int) CLOSE.invokeExact(kernel);
            } catch (Throwable t) {
                throw new AssertionError("close", t);
            }
            assertEquals(0, a | b);
        }
    }

    private record Reply(int wireType, IotlbMessage message) {}

    /** A C loop running on a thread of its own until closed: then told to stop, and its result checked. */
    private static final class Served implements AutoCloseable {
        private final EventFd stop = EventFd.create();
        private final CompletableFuture<Integer> result = new CompletableFuture<>();

        Served(IntUnaryOperator loop) throws Exception {
            Thread.ofPlatform().daemon().name("cbench-loop").start(() -> {
                try {
                    result.complete(loop.applyAsInt(stop.fd()));
                } catch (Throwable t) {
                    result.completeExceptionally(t);
                }
            });
        }

        @Override
        public void close() throws Exception {
            try {
                stop.signal();
                assertEquals(0, result.get(5, TimeUnit.SECONDS), "the loop ends when told, with 0");
            } finally {
                stop.close();
            }
        }
    }

    private static IotlbMessage miss(long iova, Access perm) {
        return new IotlbMessage(0, IotlbType.MISS, iova, 0, 0, perm);
    }

    /** Waits until {@code value} is {@code expected} (the loop bumps its counters after its write). */
    private static void awaitCounter(String what, long expected, LongSupplier value) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (value.getAsLong() != expected && System.nanoTime() < end) {
            Thread.sleep(1);
        }
        assertEquals(expected, value.getAsLong(), what);
    }

    @ParameterizedTest
    @EnumSource(CLoop.Wait.class)
    void eachMissGetsItsPageAndARepeatCountsAsADuplicateUntilAnInvalidation(CLoop.Wait wait) throws Throwable {
        try (Arena arena = Arena.ofShared(); Pair pair = Pair.open()) {
            MemorySegment counters = arena.allocate(JAVA_LONG, CLoop.COUNTERS);
            try (Served loop = new Served(stop -> c.serveMisses(pair.loop(), stop, OFFSET, GPA_BASE, SIZE, USER_BASE,
                    PAGE, true, wait, Duration.ZERO, counters))) {
                long iova = OFFSET + GPA_BASE + 0x2345;
                IotlbMessage page = IotlbMessage.update(OFFSET + GPA_BASE + 0x2000, PAGE, USER_BASE + 0x2000,
                        Access.RW);

                pair.send(miss(iova, Access.RO));
                assertEquals(new Reply(MSG_V2, page), pair.receive(Duration.ofSeconds(5)));
                awaitCounter("answered", 1, () -> counters.getAtIndex(JAVA_LONG, CLoop.ANSWERED));
                assertEquals(0, counters.getAtIndex(JAVA_LONG, CLoop.DUPLICATES));

                pair.send(miss(iova + 0x100, Access.WO)); // inside the page just answered: answered again, a duplicate
                assertEquals(new Reply(MSG_V2, page), pair.receive(Duration.ofSeconds(5)));
                awaitCounter("answered", 2, () -> counters.getAtIndex(JAVA_LONG, CLoop.ANSWERED));
                assertEquals(1, counters.getAtIndex(JAVA_LONG, CLoop.DUPLICATES));

                CLoop.countInvalidation(counters); // as the bench does before each INVALIDATE it writes
                pair.send(miss(iova, Access.RO));
                assertEquals(new Reply(MSG_V2, page), pair.receive(Duration.ofSeconds(5)));
                awaitCounter("answered", 3, () -> counters.getAtIndex(JAVA_LONG, CLoop.ANSWERED));
                assertEquals(1, counters.getAtIndex(JAVA_LONG, CLoop.DUPLICATES),
                    "after an invalidation: not a duplicate");

                pair.send(miss(OFFSET + GPA_BASE + SIZE, Access.RO)); // the first byte past guest memory
                awaitCounter("refused", 1, () -> counters.getAtIndex(JAVA_LONG, CLoop.REFUSED));
                assertNull(pair.receive(Duration.ofMillis(50)), "a refused miss gets no UPDATE");

                pair.send(miss(OFFSET + GPA_BASE + SIZE - 1, Access.RO));
                assertEquals(new Reply(MSG_V2, IotlbMessage.update(OFFSET + GPA_BASE + SIZE - PAGE, PAGE,
                        USER_BASE + SIZE - PAGE, Access.RW)), pair.receive(Duration.ofSeconds(5)));
                awaitCounter("answered", 4, () -> counters.getAtIndex(JAVA_LONG, CLoop.ANSWERED));
                assertTrue(counters.getAtIndex(JAVA_LONG, CLoop.SERVICE_NANOS) > 0, "service time summed");
            }
        }
    }

    @Test
    void v1MessagesAndAGranuleLargerThanGuestMemoryAreClippedToIt() throws Throwable {
        try (Arena arena = Arena.ofShared(); Pair pair = Pair.open()) {
            MemorySegment counters = arena.allocate(JAVA_LONG, CLoop.COUNTERS);
            try (Served loop = new Served(stop -> c.serveMisses(pair.loop(), stop, OFFSET, GPA_BASE, SIZE, USER_BASE,
                    4 * SIZE, false, CLoop.Wait.POLL, Duration.ZERO, counters))) {
                pair.send(miss(OFFSET + GPA_BASE + 0x5000, Access.RO));
                assertEquals(new Reply(MSG_V1, IotlbMessage.update(OFFSET + GPA_BASE, SIZE, USER_BASE, Access.RW)),
                        pair.receive(Duration.ofSeconds(5)));
                awaitCounter("answered", 1, () -> counters.getAtIndex(JAVA_LONG, CLoop.ANSWERED));
            }
        }
    }

    @Test
    void thePageTableLoopMapsOnePageWithItsEntrysPermissionAndRefusesAnUnmappedOne() throws Throwable {
        long base = 0xfff0_0000L; // the table's first IOVA
        try (Arena arena = Arena.ofShared(); Pair pair = Pair.open()) {
            MemorySegment table = arena.allocate(JAVA_LONG, 4);
            table.setAtIndex(JAVA_LONG, 1, (GPA_BASE + 0x7000) | 1); // IOVA page 1 -> GPA_BASE + 0x7000, RO
            table.setAtIndex(JAVA_LONG, 2, (GPA_BASE + SIZE) | 3); // a gpa outside guest memory
            MemorySegment counters = arena.allocate(JAVA_LONG, CLoop.COUNTERS);
            MemorySegment samples = arena.allocate(JAVA_LONG, 8);
            try (Served loop = new Served(stop -> c.serveMissesByTable(pair.loop(), stop, table, base, 4, GPA_BASE,
                    SIZE, USER_BASE, true, Duration.ZERO, counters, samples))) {
                pair.send(miss(base + PAGE + 0x10, Access.RO));
                assertEquals(new Reply(MSG_V2, IotlbMessage.update(base + PAGE, PAGE, USER_BASE + 0x7000,
                        Access.RO)), pair.receive(Duration.ofSeconds(5)));
                for (long iova : List.of(base, base + 2 * PAGE, base + 4 * PAGE, base - 1)) {
                    pair.send(miss(iova, Access.RO));
            }
            awaitCounter("refused", 4, () -> counters.getAtIndex(JAVA_LONG, CLoop.REFUSED));
            assertNull(pair.receive(Duration.ofMillis(50)), "unmapped, outside guest memory, outside the table");
            awaitCounter("answered", 1, () -> counters.getAtIndex(JAVA_LONG, CLoop.ANSWERED));
            assertTrue(samples.getAtIndex(JAVA_LONG, 0) > 0, "the answered miss's service time is sample 0");
            }
        }
    }
}
