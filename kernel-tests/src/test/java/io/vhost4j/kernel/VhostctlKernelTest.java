package io.vhost4j.kernel;


import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static io.vhost4j.kernel.Cli.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** vhostctl against the real kernel: probe, selftest, and selftest failing when broken on purpose. */
@Tag("kernel")
class VhostctlKernelTest {

    @BeforeEach
    void device() {
        KernelDevices.requireNet();
    }

    @Test
    void probeFindsVhostNetWithItsIotlb() throws Exception {
        java.util.Optional<io.vhost4j.FeatureWords> words;
        try (io.vhost4j.VhostNet net = io.vhost4j.VhostNet.open()) {
            words = net.getFeaturesArray();
        }
        Cli.Result r = run("probe", "--json");
        assertEquals(0, r.code(), r.out() + r.err());
        // the bits beyond 64 as the library reads them (vhost-net from 6.18), or that the kernel lacks the call
        if (words.isEmpty()) {
            assertTrue(r.out().contains("\"featuresBeyond64\": \"not supported\""), r.out());
        } else {
            String beyond = r.out().substring(r.out().indexOf("\"featuresBeyond64\": ["));
            String list = beyond.substring(0, beyond.indexOf(']') + 1);
            assertEquals(words.get().highNames(), java.util.Arrays.stream(list.substring(list.indexOf('[') + 1,
                    list.length() - 1).split(",")).map(x -> x.strip().replace("\"", "")).filter(x -> !x.isEmpty())
                    .toList(), r.out());
        }
        assertTrue(r.out().contains("\"path\": \"/dev/vhost-net\"") && r.out().contains("\"opened\": true"), r.out());
        assertTrue(r.out().contains("\"ACCESS_PLATFORM\"") && r.out().contains("\"IOTLB_MSG_V2\""), r.out());
        assertTrue(r.out().contains("\"iotlb\": true"), r.out());
        Cli.Result table = run("probe");
        assertTrue(table.out().contains("device IOTLB available"), table.out());
        words.filter(w -> !w.highNames().isEmpty()).ifPresent(w -> assertTrue(
                table.out().contains("] + " + w.highNames()), table.out()));
    }

    @Test
    void selftestPassesAndReportsEveryStep() {
        Cli.Result r = run("selftest", "--frames", "100", "--json");
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("\"result\": \"pass\""), r.out());
        assertTrue(r.out().contains("TX, IOTLB on") && r.out().contains("RX, IOTLB off"), r.out());
        assertTrue(r.err().contains("selftest: TX, IOTLB off ..."), r.err()); // progress
        Cli.Result table = run("selftest", "--frames", "50");
        assertEquals(0, table.code());
        assertTrue(table.out().contains("selftest passed"), table.out());
    }

    @Test
    void passFdsSendsAMultiQueueTapAndItsDevicesThatTheReceiverAdopts() throws Exception {
        KernelDevices.require("/dev/vhost-vsock");
        java.nio.file.Path socket = java.nio.file.Files.createTempDirectory("passfds").resolve("vmm.sock");
        java.util.concurrent.CompletableFuture<io.vhost4j.FdPassing.Received> got =
                java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                    try {
                        return io.vhost4j.FdPassing.receive(socket, java.time.Duration.ofSeconds(60));
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
        Cli.Result r = run("pass-fds", "--to", socket.toString(), "--pairs", "2", "--multi-queue", "--tap", "vpq%d",
                "--vsock");
        assertEquals(0, r.code(), r.out() + r.err());
        try (io.vhost4j.FdPassing.Received fds = got.get(60, java.util.concurrent.TimeUnit.SECONDS)) {
            assertEquals(java.util.List.of("vhost-net.0", "tap.0", "vhost-net.1", "tap.1", "vhost-vsock"), fds.names());
            try (io.vhost4j.Tap q0 = fds.tap("tap.0"); io.vhost4j.Tap q1 = fds.tap("tap.1");
                 io.vhost4j.VhostNet n0 = fds.vhostNet("vhost-net.0"); io.vhost4j.VhostNet n1 = fds.vhostNet("vhost-net.1");
                 io.vhost4j.VhostVsock v = fds.vhostVsock("vhost-vsock")) {
                assertTrue(q0.isMultiQueue() && q1.isMultiQueue() && q0.name().equals(q1.name()), q0 + " " + q1);
                assertTrue(n0.getFeatures().has(io.vhost4j.VhostFeature.NET_VIRTIO_NET_HDR));
                assertTrue(n1.path().endsWith("vhost-net") && v.path().endsWith("vhost-vsock"), v.path());
                assertTrue(v.getFeatures().has(io.vhost4j.VirtioFeature.VERSION_1), v.getFeatures().toString());
            }
        }
    }

    @Test
    void selftestFailsOnACorruptedFrame() {
        Cli.Result r = run("selftest", "--frames", "40", "--json", "--break", "CORRUPT_FRAME");
        assertEquals(Cli.CHECK_FAILED, r.code(), r.out());
        assertTrue(r.out().contains("\"result\": \"FAIL\"") && r.out().contains("differs at byte"), r.out());
    }

    @Test
    void selftestFailsWhenMissesGoUnanswered() {
        Cli.Result r = run("selftest", "--frames", "40", "--break", "UNANSWERED_MISS");
        assertEquals(Cli.CHECK_FAILED, r.code(), r.out());
        assertTrue(r.out().contains("misses went unanswered") || r.out().contains("never reached"), r.out());
        assertTrue(r.out().contains("selftest FAILED"), r.out());
    }
    @Test
    void theSelftestTableShowsTheWholeFeatureWordAndProbeTheWorkerCalls() throws Exception {
        long bits;
        try (io.vhost4j.VhostNet net = io.vhost4j.VhostNet.open()) {
            bits = net.getFeatures().bits();
        }
        Cli.Result r = run("selftest", "--frames", "20");
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("features 0x" + Long.toHexString(bits) + " "), "never cut: " + r.out());
        Cli.Result p = run("probe", "--json");
        assertTrue(p.out().contains("\"vringWorkers\": \"not supported (ENOTTY)\""), p.out());
        assertTrue(p.out().contains("\"forkFromOwner\": "), p.out());
    }

    @Test
    void theSelftestRunsItsVdpaStepWhereVduseExistsAndSaysWhyNotElsewhere() {
        Cli.Result r = run("selftest", "--frames", "50", "--json");
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("vDPA: TX->RX through a Java VDUSE device"), r.out());
        boolean vduse = java.nio.file.Files.exists(java.nio.file.Path.of(io.vhost4j.vdpa.VduseControl.PATH));
        assertEquals(KernelDevices.kernelAtLeast(6, 10), vduse, "VDUSE exactly where the kernel has it");
        if (vduse) {
            String out = r.out().replaceAll("\\s+", " ");
            assertTrue(out.matches(".*\"step\": \"vDPA[^}]*\"result\": \"pass\", \"frames\": 50,.*"), out);
        } else {
            assertTrue(r.out().contains("\"result\": \"skip\"") && r.out().contains("Linux 6.10+"), r.out());
        }
    }

    @Test
    void probeDescribesAVdpaDeviceAndTheBusItIsOn() throws Exception {
        KernelDevices.applicableOnlyIf(KernelDevices.kernelAtLeast(6, 10), "VDUSE net devices need Linux 6.10+");
        String name = "v4j-probe" + ProcessHandle.current().pid() % 1000;
        try (BoundVduseNet b = BoundVduseNet.create(name, 128, java.time.Duration.ofSeconds(10))) {
            String node = b.node;
            Cli.Result r = run("probe", "--json");
            assertEquals(0, r.code(), r.out() + r.err());
            String out = r.out().replaceAll("\\s+", " ");
            assertTrue(out.contains("\"path\": \"" + node + "\", \"exists\": true, \"opened\": true"), out);
            assertTrue(out.contains("\"vdpa\": { \"deviceId\": 1, \"queues\": 2, \"configSize\": 10,"
                    + " \"maxQueueSize\": 128, \"iovaRange\": \"0x"), out);
            assertTrue(out.contains("\"groups\": 1, \"addressSpaces\": 1 }"), out);
            assertTrue(out.contains("{ \"name\": \"" + name + "\", \"managementDevice\": \"vduse\","
                    + " \"deviceId\": 1, \"maxQueues\": 2, \"maxQueueSize\": 128, \"driver\": \"vhost_vdpa\","
                    + " \"node\": \"" + node + "\" }"), out);
            assertTrue(b.device.statuses().contains(io.vhost4j.DeviceStatus.RESET),
                    "probing opened vhost-vdpa, which resets the device: " + b.device.statuses());
        }
    }
}
