package example.vmm;

import io.vhost4j.Access;
import io.vhost4j.Tap;
import io.vhost4j.VhostNet;
import io.vhost4j.iotlb.DeviceStats;
import io.vhost4j.iotlb.IotlbFault;
import io.vhost4j.iotlb.IotlbManager;
import io.vhost4j.iotlb.ManagedDevice;
import io.vhost4j.testkit.DmaRange;
import io.vhost4j.testkit.DmaWindow;
import io.vhost4j.testkit.GuestMemory;
import io.vhost4j.testkit.NetDriver;
import io.vhost4j.testkit.OffsetTranslator;
import io.vhost4j.testkit.PacketSocket;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * A VMM's vhost-net back end with a vIOMMU, served from the VMM's own event loop.
 *
 * <p>The VMM opens vhost-net and a tap, gives the device its guest memory and rings (here the test kit's
 * virtio-net driver plays the guest), registers the device with an {@link IotlbManager} whose translator is the
 * VMM's vIOMMU model, and then polls, in one loop of its own: the manager's descriptor (IOTLB misses) and the
 * queues' call eventfds (used buffers). No thread of the library runs: {@link IotlbManager#processReady} is
 * called when the manager's descriptor is readable. Frames go both ways and are checked byte for byte.
 *
 * <p>Run as root: {@code java --enable-native-access=io.vhost4j,io.vhost4j.testkit,example.vmm
 * --module-path target/lib:target/classes -m example.vmm/example.vmm.EmbeddedVmm [frames]}
 */
public final class EmbeddedVmm {
    private static final long GUEST_BASE = 0x4000_0000L;
    private static final long IOVA_OFFSET = 0x20_0000_0000L; // the vIOMMU puts guest memory at this IOVA
    private static final int ETHER_TYPE = 0x88B6;
    private static final Duration DEADLINE = Duration.ofSeconds(120);
    private static final java.lang.foreign.ValueLayout.OfShort BE16 = JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final java.lang.foreign.ValueLayout.OfInt BE32 = JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private EmbeddedVmm() {}

    /** Frame {@code seq}: Ethernet header with our EtherType, the number, then a pattern derived from it. */
    static void fill(MemorySegment f, int seq) {
        for (int i = 0; i < 12; i++) {
            f.set(JAVA_BYTE, i, (byte) (i < 6 ? 0x02 : 0x06));
        }
        f.set(BE16, 12, (short) ETHER_TYPE);
        f.set(BE32, 14, seq);
        for (long i = 18; i < f.byteSize(); i++) {
            f.set(JAVA_BYTE, i, (byte) (seq * 13 + i));
        }
    }

    static int sizeOf(int seq) {
        return 60 + (seq * 97) % 1400;
    }

    /** Whether {@code got} is frame {@code seq}, byte for byte. */
    static boolean matches(MemorySegment got, int seq, MemorySegment scratch) {
        MemorySegment want = scratch.asSlice(0, sizeOf(seq));
        fill(want, seq);
        return got.byteSize() == want.byteSize() && want.mismatch(got) < 0;
    }

    public static void main(String[] args) throws Exception {
        int frames = args.length > 0 ? Integer.parseInt(args[0]) : 200;
        List<IotlbFault> faults = new CopyOnWriteArrayList<>();
        NetDriver.Config config = NetDriver.Config.defaults().withDma(DmaWindow.iova(IOVA_OFFSET));
        try (VhostNet net = VhostNet.open();
             Tap tap = Tap.create("vmm%d");
             PacketSocket wire = PacketSocket.open(tap, ETHER_TYPE);
             GuestMemory memory = GuestMemory.allocate(GUEST_BASE, config.memoryNeeded());
             NetDriver guest = NetDriver.create(net, memory, GUEST_BASE, config);
             IotlbManager iotlb = IotlbManager.create((device, fault) -> faults.add(fault));
             Arena arena = Arena.ofConfined()) {
            // 1. Device set-up: owner, features (ACCESS_PLATFORM: the device IOTLB is on), memory table, rings.
            guest.configure();
            // 2. The vIOMMU: IOVA = GPA + offset, 4 KiB at a time, so the device misses often.
            OffsetTranslator viommu = new OffsetTranslator(IOVA_OFFSET, GUEST_BASE, memory.regions().get(0).size(),
                    4096, Access.RW);
            ManagedDevice device = iotlb.register(net, memory.memoryTable(), viommu);
            // 3. The used rings must be mapped before the backend starts; then attach the tap.
            for (DmaRange used : guest.usedRings()) {
                if (!device.prefault(used.deviceAddress(), used.size(), Access.WO)) {
                    throw new IllegalStateException("could not map a used ring: " + faults);
                }
            }
            guest.attach(tap);

            // 4. The VMM's own loop: the manager's fd and the two call eventfds.
            MemorySegment buf = arena.allocate(65536), want = arena.allocate(65536), frame = arena.allocate(2048);
            int txSent = 0, txSeen = 0, rxSent = 0, rxSeen = 0, polls = 0;
            long deadline = System.nanoTime() + DEADLINE.toNanos();
            try (Poller loop = new Poller(iotlb.fd(), guest.txQueue().callFd().fd(), guest.rxQueue().callFd().fd())) {
                while ((txSeen < frames || rxSeen < frames) && System.nanoTime() < deadline) {
                    while (txSent < frames && txSent - txSeen < 32) { // guest transmits
                        MemorySegment f = frame.asSlice(0, sizeOf(txSent));
                        fill(f, txSent);
                        if (!guest.transmit(f, Duration.ZERO)) {
                            break;
                        }
                        txSent++;
                    }
                    while (rxSent < frames && rxSent - rxSeen < 16) { // the outside world sends to the guest
                        MemorySegment f = frame.asSlice(0, sizeOf(rxSent));
                        fill(f, rxSent);
                        wire.send(f);
                        rxSent++;
                    }
                    loop.await(10);
                    polls++;
                    if (loop.ready(0)) {
                        iotlb.processReady(0); // serve every queued miss, on this thread
                    }
                    if (loop.ready(1)) {
                        guest.txQueue().callFd().drain();
                        guest.reclaimTx();
                    }
                    if (loop.ready(2)) {
                        guest.rxQueue().callFd().drain();
                    }
                    for (int n; (n = guest.receive(buf, Duration.ZERO)) >= 0; ) {
                        MemorySegment got = buf.asSlice(0, n);
                        if (n < 14 || Short.toUnsignedInt(got.get(BE16, 12)) != ETHER_TYPE) {
                            continue; // the host's own traffic on the tap
                        }
                        if (!matches(got, rxSeen, want)) {
                            throw new IllegalStateException("RX frame " + rxSeen + " is not what was sent");
                        }
                        rxSeen++;
                    }
                    for (int n; (n = wire.receive(buf, Duration.ZERO)) >= 0; ) {
                        if (!matches(buf.asSlice(0, n), txSeen, want)) {
                            throw new IllegalStateException("TX frame " + txSeen + " is not what was sent");
                        }
                        txSeen++;
                    }
                }
            }
            DeviceStats stats = device.stats();
            boolean pass = txSeen == frames && rxSeen == frames && faults.isEmpty();
            System.out.printf("embedded VMM: %d/%d frames guest->tap, %d/%d tap->guest, byte-exact; %d IOTLB misses"
                            + " served from the VMM's loop (%d updates, %d faults) in %d polls%n", txSeen, frames,
                    rxSeen, frames, stats.misses(), stats.updates(), stats.faults(), polls);
            System.out.println(pass ? "embedding example passed" : "embedding example FAILED " + faults);
            System.exit(pass ? 0 : 1);
        }
    }
}
