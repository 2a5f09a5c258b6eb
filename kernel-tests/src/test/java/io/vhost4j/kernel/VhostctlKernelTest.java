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
    void probeFindsVhostNetWithItsIotlb() {
        Cli.Result r = run("probe", "--json");
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("\"path\": \"/dev/vhost-net\"") && r.out().contains("\"opened\": true"), r.out());
        assertTrue(r.out().contains("\"ACCESS_PLATFORM\"") && r.out().contains("\"IOTLB_MSG_V2\""), r.out());
        assertTrue(r.out().contains("\"iotlb\": true"), r.out());
        Cli.Result table = run("probe");
        assertTrue(table.out().contains("device IOTLB available"), table.out());
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
}
