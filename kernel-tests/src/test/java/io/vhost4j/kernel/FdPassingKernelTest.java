package io.vhost4j.kernel;

import io.vhost4j.FdPassing;
import io.vhost4j.Tap;
import io.vhost4j.VhostNet;
import io.vhost4j.testkit.NetDriver;
import io.vhost4j.testkit.NetLoopback;
import io.vhost4j.testkit.PacketSocket;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.vhost4j.kernel.TestValues.BATCH;
import static io.vhost4j.kernel.TestValues.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Descriptors handed over a unix socket (SCM_RIGHTS), adopted after checks, and used for real traffic. */
@Tag("kernel")
class FdPassingKernelTest {

    @BeforeEach
    void device() {
        KernelDevices.requireNet();
    }

    private static CompletableFuture<FdPassing.Received> receiving(Path socket) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return FdPassing.receive(socket, Duration.ofSeconds(60));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    @Test
    void passedDevicesAreAdoptedAsWhatTheyAreAndCarryTraffic() throws Exception {
        Path socket = Files.createTempDirectory("fdpass").resolve("vmm.sock");
        CompletableFuture<FdPassing.Received> got = receiving(socket);
        try (VhostNet net = VhostNet.open(); Tap tap = Tap.create("vfd%d");
             PacketSocket peer = PacketSocket.open(tap, NetLoopback.ETHER_TYPE)) {
            Map<String, Object> fds = new LinkedHashMap<>();
            fds.put("vhost-net", net);
            fds.put("tap", tap);
            fds.put("packet", peer.fd());
            FdPassing.send(socket, fds, WAIT);
        } // the sender's copies are closed: the receiver's keep the tap interface and the device alive
        try (FdPassing.Received r = got.get(60, TimeUnit.SECONDS)) {
            assertEquals(List.of("vhost-net", "tap", "packet"), r.names());
            assertThrows(IllegalArgumentException.class, () -> r.vhostNet("nothing"));
            try (NetLoopback loop = NetLoopback.of(NetDriver.Config.defaults(), r.vhostNet("vhost-net"), r.tap("tap"),
                    PacketSocket.adopt(r.take("packet"))).start()) {
                assertTrue(loop.net().path().endsWith("vhost-net"), loop.net().path());
                loop.txRun(0, 64, BATCH, WAIT);
                loop.rxRun(1000, 64, BATCH, WAIT);
            }
            assertEquals(List.of(), r.names());
        }
        assertFalse(Files.exists(socket), "the socket file goes after the handover");
    }

    @Test
    void aDescriptorOfTheWrongKindIsRefusedAndClosed() throws Exception {
        Path socket = Files.createTempDirectory("fdpass").resolve("vmm.sock");
        CompletableFuture<FdPassing.Received> got = receiving(socket);
        try (VhostNet net = VhostNet.open(); Tap tap = Tap.create("vfd%d")) {
            Map<String, Object> fds = new LinkedHashMap<>();
            fds.put("looks-like-a-tap", net);
            fds.put("looks-like-vhost", tap);
            fds.put("looks-like-vsock", VhostNet.open()); // closed below with the map's values
            try {
                FdPassing.send(socket, fds, WAIT);
            } finally {
                ((VhostNet) fds.get("looks-like-vsock")).close();
            }
        }
        try (FdPassing.Received r = got.get(60, TimeUnit.SECONDS)) {
            IllegalArgumentException notTap = assertThrows(IllegalArgumentException.class,
                    () -> r.tap("looks-like-a-tap"));
            assertTrue(notTap.getMessage().contains("is not a tap"), notTap.getMessage());
            IllegalArgumentException notVhost = assertThrows(IllegalArgumentException.class,
                    () -> r.vhostNet("looks-like-vhost"));
            assertTrue(notVhost.getMessage().contains("is not a /dev/vhost-net device (10:238)"), notVhost.getMessage());
            IllegalArgumentException notVsock = assertThrows(IllegalArgumentException.class,
                    () -> r.vhostVsock("looks-like-vsock"));
            assertTrue(notVsock.getMessage().contains("is not a /dev/vhost-vsock device"), notVsock.getMessage());
            assertEquals(List.of(), r.names());
        }
    }
}
