package io.vhost4j.cli.bench;

import io.vhost4j.VhostVsock;
import io.vhost4j.testkit.GuestMemory;
import io.vhost4j.testkit.HostVsock;
import io.vhost4j.testkit.VsockDriver;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * vhost-vsock stream throughput: a host {@code AF_VSOCK} socket and the test kit's guest-side driver in this
 * process, {@code seconds} of 64 KiB writes one way, then the other.
 */
public final class VsockBench {
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final long BASE = 0x4000_0000L;
    private static final int QUEUE = 256, CHUNK = 64 << 10;

    private final double seconds;

    /** Each direction measured for {@code seconds}. */
    public VsockBench(double seconds) {
        this.seconds = seconds;
    }

    /** Both directions. */
    public List<Figure> run(Progress progress) throws Exception {
        progress.say("vsock stream, host socket -> guest driver, then back");
        try (VhostVsock dev = VhostVsock.open(); GuestMemory mem = GuestMemory.allocate(BASE, VsockDriver.memoryNeeded(QUEUE));
             VsockDriver d = VsockDriver.create(dev, mem, BASE, QUEUE)) {
            long cid = 1000 + ThreadLocalRandom.current().nextLong(1_000_000);
            d.start(cid);
            long bytes = (long) (seconds * 8 * CHUNK * 16); // a size, not a time: both sides must agree on it
            CompletableFuture<Double> down = CompletableFuture.supplyAsync(() -> {
                try (HostVsock s = HostVsock.connect(cid, 7000, false)) {
                    byte[] chunk = new byte[CHUNK];
                    for (long sent = 0; sent < bytes; sent += CHUNK) {
                        s.write(chunk);
                    }
                    long got = 0, t0 = 0;
                    while (got < bytes) {
                        byte[] b = s.read(CHUNK);
                        if (t0 == 0) {
                            t0 = System.nanoTime();
                        }
                        if (b.length == 0) {
                            throw new IllegalStateException("end of stream after " + got + " bytes");
                        }
                        got += b.length;
                    }
                    return bytes / ((System.nanoTime() - t0) / 1e9) / 1e6;
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            VsockDriver.Connection c = d.accept(7000, false, WAIT);
            byte[] buf = new byte[CHUNK];
            long t0 = System.nanoTime();
            for (long got = 0; got < bytes; ) {
                int n = c.read(buf, 0, buf.length, WAIT);
                if (n < 0) {
                    throw new IllegalStateException("end of stream after " + got + " bytes");
                }
                got += n;
            }
            double up = bytes / ((System.nanoTime() - t0) / 1e9) / 1e6;
            for (long sent = 0; sent < bytes; sent += CHUNK) {
                c.write(buf, WAIT);
            }
            double downMb = down.get(120, TimeUnit.SECONDS);
            c.awaitClosed(WAIT);
            String note = (bytes >> 20) + " MiB each way, 64 KiB writes, 4 KiB packets";
            return List.of(
                    Figure.javaOnly("vsock.stream.host_to_guest_mb_per_s", "vsock stream, host socket -> Java guest"
                            + " driver", up, "MB/s", note),
                    Figure.javaOnly("vsock.stream.guest_to_host_mb_per_s", "vsock stream, Java guest driver -> host"
                            + " socket", downMb, "MB/s", note));
        }
    }
}
