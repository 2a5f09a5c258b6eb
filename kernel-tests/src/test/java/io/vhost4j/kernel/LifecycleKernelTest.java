package io.vhost4j.kernel;

import io.vhost4j.EventFd;
import io.vhost4j.VhostNet;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Opening and closing devices leaks neither file descriptors nor native memory. */
@Tag("kernel")
class LifecycleKernelTest {

    private static long rssKiB() throws IOException {
        return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("VmRSS:"))
                .map(l -> Long.parseLong(l.replaceAll("\\D", ""))).findFirst().orElseThrow();
    }

    @Test
    void tenThousandDevicesOpenedAndClosedLeakNothing() throws Exception {
        KernelDevices.require("/dev/vhost-net");
        for (int i = 0; i < 200; i++) { // warm up: thread-local buffers, class loading
            try (VhostNet net = VhostNet.open()) {
                net.getFeatures();
            }
        }
        long fds = KernelDevices.openFds();
        long rss = rssKiB();
        // 16 threads: each vhost-net release waits for an RCU grace period, which concurrent closes share.
        try (ExecutorService pool = Executors.newFixedThreadPool(16)) {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < 16; t++) {
                done.add(pool.submit(() -> {
                    for (int i = 0; i < 10_000 / 16 + 1; i++) {
                        VhostNet net = VhostNet.open();
                        net.getFeatures();
                        try (EventFd e = EventFd.create()) {
                            e.signal();
                        }
                        net.close();
                        net.close();
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
        }
        assertEquals(fds, KernelDevices.openFds(), "file descriptors leaked");
        long grown = rssKiB() - rss;
        assertTrue(grown < 32 * 1024, "resident memory grew by " + grown + " KiB over 10 000 devices");
    }
}
