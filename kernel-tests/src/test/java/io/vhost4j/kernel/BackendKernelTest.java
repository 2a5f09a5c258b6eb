package io.vhost4j.kernel;

import io.vhost4j.PacketBackend;
import io.vhost4j.Tap;
import io.vhost4j.TapOptions;
import io.vhost4j.VhostNet;
import io.vhost4j.testkit.NetDriver;
import io.vhost4j.testkit.NetLoopback;
import io.vhost4j.testkit.PacketSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static io.vhost4j.kernel.TestValues.BATCH;
import static io.vhost4j.kernel.TestValues.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * vhost-net on the backends other than a plain tap, over a veth pair (the wire): a macvtap in passthru mode on one
 * end, or a raw packet socket on it; the packet-socket peer sits on the other end. Frames byte for byte both ways.
 */
@Tag("kernel")
class BackendKernelTest {
    private static final String A = "vk4a", B = "vk4b", MACVTAP = "vk4m";

    @BeforeEach
    void link() throws Exception {
        KernelDevices.requireNet();
        ip("link", "add", A, "type", "veth", "peer", "name", B);
        ip("link", "set", A, "up");
        ip("link", "set", B, "up");
    }

    @AfterEach
    void unlink() throws Exception {
        if (Files.exists(Path.of("/sys/class/net", A))) {
            ip("link", "del", A); // takes its peer and the macvtap with it
        }
    }

    private static void ip(String... args) throws IOException, InterruptedException {
        List<String> cmd = new java.util.ArrayList<>(List.of("ip"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + ": " + out);
    }

    private static int ifindex(String name) throws IOException {
        return Integer.parseInt(Files.readString(Path.of("/sys/class/net", name, "ifindex")).trim());
    }

    private static PacketSocket peerOnB() throws Exception {
        return PacketSocket.open(B, ifindex(B), NetLoopback.ETHER_TYPE);
    }

    @Test
    void aMacvtapQueueCarriesFramesBothWays() throws Exception {
        ip("link", "add", "link", A, "name", MACVTAP, "type", "macvtap", "mode", "passthru");
        ip("link", "set", MACVTAP, "up");
        Tap macvtap = Tap.openMacvtap(MACVTAP, TapOptions.defaults());
        assertTrue(macvtap.isMacvtap());
        assertEquals(12, macvtap.vnetHeaderSize());
        try (NetLoopback l = NetLoopback.over(NetDriver.Config.defaults(), VhostNet.open(), macvtap, peerOnB())
                .start()) {
            l.txRun(0, 64, BATCH, WAIT);
            l.rxRun(1000, 64, BATCH, WAIT);
            assertTrue(l.tap().isMacvtap());
        }
    }

    @Test
    void aRawPacketSocketIsABackendWithVhostAddingTheHeader() throws Exception {
        try (NetLoopback l = NetLoopback.over(NetDriver.Config.defaults(), VhostNet.open(),
                PacketBackend.bind(A, ifindex(A)), peerOnB()).start()) {
            assertTrue(l.driver().features().has(io.vhost4j.VhostFeature.NET_VIRTIO_NET_HDR), l.driver().features()
                    .toString());
            l.txRun(0, 64, BATCH, WAIT);
            l.rxRun(1000, 64, BATCH, WAIT);
            assertThrows(IllegalStateException.class, l::tap); // its backend is no tap
        }
    }
}
