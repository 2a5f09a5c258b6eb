package io.vhost4j.kernel;

import io.vhost4j.Errno;
import io.vhost4j.VhostException;
import io.vhost4j.VhostVsock;
import io.vhost4j.testkit.GuestMemory;
import io.vhost4j.testkit.HostVsock;
import io.vhost4j.testkit.VsockDriver;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static io.vhost4j.kernel.TestValues.WAIT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bytes across vhost-vsock: host AF_VSOCK sockets against the test kit's guest-side virtio-vsock driver. */
@Tag("kernel")
class VsockTrafficKernelTest {
    private static final long BASE = 0x4000_0000L;
    private static final int QUEUE = 128;
    private static final int MIB = 1 << 20;

    @BeforeEach
    void device() {
        KernelDevices.require("/dev/vhost-vsock");
    }

    /** A guest on a fresh CID, running. */
    private record Guest(VhostVsock device, GuestMemory memory, VsockDriver driver, long cid) implements AutoCloseable {
        static Guest start() throws Exception {
            VhostVsock dev = VhostVsock.open();
            GuestMemory mem = GuestMemory.allocate(BASE, VsockDriver.memoryNeeded(QUEUE));
            VsockDriver d = VsockDriver.create(dev, mem, BASE, QUEUE);
            long cid = 1000 + ThreadLocalRandom.current().nextLong(1_000_000);
            d.start(cid);
            return new Guest(dev, mem, d, cid);
        }

        @Override
        public void close() {
            driver.close();
            device.close();
            memory.close();
        }
    }

    private static byte[] pattern(int length, int stream) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (i * 31 + stream * 7 + (i >> 8));
        }
        return b;
    }

    private static <T> CompletableFuture<T> host(java.util.concurrent.Callable<T> body) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return body.call();
            } catch (Exception e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        });
    }

    @Test
    void aHostSocketStreamsAMebibyteEachWayByteForByteAndItsCloseIsCompleted() throws Exception {
        byte[] up = pattern(MIB, 1), down = pattern(MIB, 2);
        try (Guest g = Guest.start()) {
            CompletableFuture<byte[]> received = host(() -> {
                try (HostVsock s = HostVsock.connect(g.cid(), 5000, false)) {
                    s.write(up); // a mebibyte in one call: a stream socket takes any length
                    ByteArrayOutputStream got = new ByteArrayOutputStream();
                    while (got.size() < down.length) {
                        byte[] b = s.read(65536);
                        if (b.length == 0) {
                            break;
                        }
                        got.write(b);
                    }
                    return got.toByteArray();
                }
            });
            VsockDriver.Connection c = g.driver().accept(5000, false, WAIT);
            byte[] got = new byte[MIB];
            for (int off = 0; off < got.length; ) {
                int n = c.read(got, off, got.length - off, WAIT);
                assertTrue(n > 0, "end of stream after " + off + " bytes");
                off += n;
            }
            assertArrayEquals(up, got, "host -> guest");
            c.write(down, WAIT);
            assertArrayEquals(down, received.get(60, TimeUnit.SECONDS), "guest -> host");
            assertTrue(c.awaitClosed(WAIT), "the host's close() came and was answered");
        }
    }

    @Test
    void aConnectionToAPortNobodyListensOnIsReset() throws Exception {
        try (Guest g = Guest.start()) {
            CompletableFuture<HostVsock> attempt = host(() -> HostVsock.connect(g.cid(), 5001, false));
            int refused = 0;
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (!attempt.isDone() && System.nanoTime() < deadline) {
                refused += g.driver().refuseAll(java.time.Duration.ofMillis(100));
            }
            assertTrue(refused >= 1);
            ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                    () -> attempt.get(1, TimeUnit.SECONDS));
            VhostException cause = (VhostException) e.getCause();
            assertEquals(Errno.ECONNRESET, cause.errno(), cause.getMessage());
        }
    }

    @Test
    void theGuestShuttingDownItsSideIsEndOfStreamForTheHost() throws Exception {
        try (Guest g = Guest.start()) {
            CompletableFuture<List<byte[]>> reads = host(() -> {
                try (HostVsock s = HostVsock.connect(g.cid(), 5002, false)) {
                    byte[] first = s.read(100);
                    byte[] eof = s.read(100);
                    return List.of(first, eof);
                }
            });
            VsockDriver.Connection c = g.driver().accept(5002, false, WAIT);
            c.write("hello".getBytes(), WAIT);
            c.shutdownOutput(WAIT);
            List<byte[]> r = reads.get(60, TimeUnit.SECONDS);
            assertArrayEquals("hello".getBytes(), r.get(0));
            assertEquals(0, r.get(1).length, "end of stream");
            c.awaitClosed(WAIT);
        }
    }

    @Test
    void seqpacketKeepsEveryMessageWholeBothWays() throws Exception {
        try (Guest g = Guest.start()) {
            KernelDevices.applicableOnlyIf(g.driver().seqpacket(), "vhost-vsock offers no SEQPACKET");
            List<Integer> upSizes = List.of(1, 100, 5000, 9000, 30000), downSizes = List.of(7, 4096, 12000);
            CompletableFuture<List<byte[]>> host = host(() -> {
                try (HostVsock s = HostVsock.connect(g.cid(), 5003, true)) {
                    for (int i = 0; i < upSizes.size(); i++) {
                        s.write(pattern(upSizes.get(i), i));
                    }
                    List<byte[]> got = new java.util.ArrayList<>();
                    for (int i = 0; i < downSizes.size(); i++) {
                        got.add(s.read(65536));
                    }
                    return got;
                }
            });
            VsockDriver.Connection c = g.driver().accept(5003, true, WAIT);
            for (int i = 0; i < upSizes.size(); i++) {
                assertArrayEquals(pattern(upSizes.get(i), i), c.readMessage(WAIT), "message " + i + " host -> guest");
            }
            for (int i = 0; i < downSizes.size(); i++) {
                c.write(pattern(downSizes.get(i), 10 + i), WAIT);
            }
            List<byte[]> got = host.get(60, TimeUnit.SECONDS);
            for (int i = 0; i < downSizes.size(); i++) {
                assertArrayEquals(pattern(downSizes.get(i), 10 + i), got.get(i), "message " + i + " guest -> host");
            }
            c.awaitClosed(WAIT);
        }
    }

    @Test
    void theDriverRefusesTrafficBeforeStartAndABadCidBeforeItTouchesTheDevice() throws Exception {
        try (VhostVsock dev = VhostVsock.open(); GuestMemory mem = GuestMemory.allocate(BASE, VsockDriver.memoryNeeded(QUEUE));
             VsockDriver d = VsockDriver.create(dev, mem, BASE, QUEUE)) {
            assertThrows(IllegalStateException.class, () -> d.receive(java.time.Duration.ofMillis(10)), "was null: no packet");
            assertThrows(IllegalStateException.class, () -> d.accept(5000, false, java.time.Duration.ofMillis(10)));
            // CID 2 is the host's: refused before VHOST_SET_OWNER (which made every later start fail with EBUSY)
            assertThrows(IllegalArgumentException.class, () -> d.start(2));
            assertThrows(IllegalArgumentException.class, () -> d.start(0xffff_ffffL));
            long cid = 1000 + java.util.concurrent.ThreadLocalRandom.current().nextLong(1_000_000);
            d.start(cid);
            assertThrows(IllegalStateException.class, () -> d.start(cid + 1), "started once");
            assertThrows(IllegalArgumentException.class, () -> d.accept(-1, false, java.time.Duration.ofMillis(10)), "any port");
            CompletableFuture<byte[]> echoed = host(() -> {
                try (HostVsock s = HostVsock.connect(cid, 5001, false)) {
                    assertThrows(IllegalArgumentException.class, () -> s.read(0), "0 bytes would look like the end");
                    s.write(new byte[] {1, 2, 3});
                    return s.read(16);
                }
            });
            VsockDriver.Connection c = d.accept(5001, false, WAIT);
            byte[] buf = new byte[16];
            int n = c.read(buf, 0, buf.length, WAIT);
            c.write(java.util.Arrays.copyOf(buf, n), WAIT);
            assertArrayEquals(new byte[] {1, 2, 3}, echoed.get(30, java.util.concurrent.TimeUnit.SECONDS));
        }
    }

    @Test
    void aCidInUseLeavesTheDeviceAsItWasSoAnotherCidStartsIt() throws Exception {
        try (Guest other = Guest.start(); VhostVsock dev = VhostVsock.open();
             GuestMemory mem = GuestMemory.allocate(BASE, VsockDriver.memoryNeeded(QUEUE));
             VsockDriver d = VsockDriver.create(dev, mem, BASE, QUEUE)) {
            VhostException taken = assertThrows(VhostException.class, () -> d.start(other.cid()));
            assertEquals(Errno.EADDRINUSE, taken.errno(), taken.getMessage());
            assertTrue(taken.hint().contains("choose another"), taken.hint());
            long cid = other.cid() + 1;
            d.start(cid); // was EBUSY: the first start had set the owner before the kernel refused the CID
            assertEquals(cid, d.cid());
            // vhost-vsock cannot drop its owner: refused before the kernel (which answers EFAULT), and SET_OWNER's
            // EBUSY says to reopen the device
            assertThrows(UnsupportedOperationException.class, dev::resetOwner);
            VhostException busy = assertThrows(VhostException.class, dev::setOwner);
            assertEquals(Errno.EBUSY, busy.errno());
            assertTrue(busy.hint().contains("open the device again"), busy.hint());
            try (VhostVsock closed = VhostVsock.open()) {
                closed.close();
                assertThrows(IllegalStateException.class, closed::resetOwner, "use after close comes first");
            }
            CompletableFuture<byte[]> echoed = host(() -> {
                try (HostVsock s = HostVsock.connect(cid, 5002, false)) {
                    s.write(new byte[] {4, 5, 6, 7});
                    return s.read(16);
                }
            });
            VsockDriver.Connection c = d.accept(5002, false, WAIT);
            byte[] buf = new byte[16];
            int n = c.read(buf, 0, buf.length, WAIT);
            c.write(Arrays.copyOf(buf, n), WAIT);
            assertArrayEquals(new byte[] {4, 5, 6, 7}, echoed.get(30, TimeUnit.SECONDS));
        }
    }
}
