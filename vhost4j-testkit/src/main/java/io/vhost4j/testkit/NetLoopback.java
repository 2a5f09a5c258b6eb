package io.vhost4j.testkit;

import io.vhost4j.testkit.PacketSocket;
import io.vhost4j.NetBackend;
import io.vhost4j.PacketBackend;
import io.vhost4j.Tap;
import io.vhost4j.TapOptions;
import io.vhost4j.VhostException;
import io.vhost4j.VhostNet;
import io.vhost4j.iotlb.IotlbManager;
import io.vhost4j.iotlb.ManagedDevice;
import io.vhost4j.iotlb.MappingPolicy;
import io.vhost4j.testkit.OffsetTranslator;
import io.vhost4j.iotlb.Translator;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;


/**
 * vhost-net driven end to end without a VM: a {@link NetDriver} in its own {@link GuestMemory}, a
 * {@link Tap} as backend and a {@link PacketSocket} on the host side. Frames are numbered, carry a
 * private EtherType (the host's own traffic on the tap is skipped and counted) and a pattern derived from
 * their number, so every frame is checked byte for byte. What the kernel tests, {@code vhostctl selftest}
 * and the benchmarks drive. Not thread-safe: one thread at a time uses it (any thread: it may be handed over, and
 * closed by another).
 */
public final class NetLoopback implements AutoCloseable {
    /** EtherType of the loopback's frames (IEEE local experimental). */
    public static final int ETHER_TYPE = Frames.ETHER_TYPE;
    /** IOVA minus GPA used when the device IOTLB is on ({@link DmaWindow#iova}): IOVAs never equal GPAs. */
    public static final long IOVA_OFFSET = 0x10_0000_0000L;
    /** Guest-physical base of the driver's memory. */
    public static final long GUEST_BASE = 0x4000_0000L;

    private final VhostNet net;
    private final GuestMemory memory;
    private final NetBackend backend; // a Tap, except for loopbacks over another backend ({@link #over})
    private final PacketSocket peer;
    private final NetDriver driver;
    private final Arena arena = Arena.ofShared(); // any thread may use and close it (one at a time)
    private final MemorySegment frame = arena.allocate(NetDriver.MAX_FRAME);
    private final MemorySegment got = arena.allocate(65536);
    private int foreignFrames;


    private NetLoopback(VhostNet net, GuestMemory memory, NetBackend backend, PacketSocket peer, NetDriver driver) {
        this.net = net;
        this.memory = memory;
        this.backend = backend;
        this.peer = peer;
        this.driver = driver;
    }

    /**
     * Opens {@code /dev/vhost-net}, maps the driver's memory, creates a tap (named from {@code tapName},
     * e.g. {@code "vt%d"}) and its packet socket. Nothing is configured yet: call
     * {@link NetDriver#configure()} and {@link NetDriver#attach(io.vhost4j.NetBackend)} (or {@link #start()}).
     */
    public static NetLoopback open(NetDriver.Config config, String tapName) throws VhostException {
        return open(config, tapName, TapOptions.defaults());
    }

    /** As {@link #open(NetDriver.Config, String)}, the tap set up as {@code tapOptions} say. */
    public static NetLoopback open(NetDriver.Config config, String tapName, TapOptions tapOptions)
            throws VhostException {
        VhostNet n = null;
        GuestMemory m = null;
        Tap t = null;
        PacketSocket p = null;
        try {
            n = VhostNet.open();
            m = GuestMemory.allocate(GUEST_BASE, config.memoryNeeded());
            t = Tap.create(tapName, tapOptions);
            p = PacketSocket.open(t, ETHER_TYPE);
            return new NetLoopback(n, m, t, p, NetDriver.create(n, m, GUEST_BASE, config));
        } catch (VhostException | RuntimeException e) {
            if (p != null) p.close();
            if (t != null) t.close();
            if (m != null) m.close();
            if (n != null) n.close();
            throw e;
        }
    }

    /**
     * A loopback over devices opened elsewhere (e.g. received from a privileged helper, so that this process needs
     * no privilege): {@code net}, {@code tap} and a packet socket {@code peer} on the tap for
     * {@link #ETHER_TYPE}; this loopback owns them from now on. Only the guest memory is new.
     */
    public static NetLoopback of(NetDriver.Config config, VhostNet net, Tap tap, PacketSocket peer)
            throws VhostException {
        return over(config, net, tap, peer);
    }

    /**
     * A loopback over any vhost-net backend: a macvtap queue, or a raw packet socket on one end of a link whose
     * other end {@code peer} is bound to (for {@link #ETHER_TYPE}). It owns them all from now on; a
     * {@link PacketBackend} makes the driver ack {@code VHOST_NET_F_VIRTIO_NET_HDR} ({@link #start()} does).
     */
    public static NetLoopback over(NetDriver.Config config, VhostNet net, NetBackend backend, PacketSocket peer)
            throws VhostException {
        GuestMemory m = GuestMemory.allocate(GUEST_BASE, config.memoryNeeded());
        try {
            return new NetLoopback(net, m, backend, peer, NetDriver.create(net, m, GUEST_BASE, config));
        } catch (VhostException | RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /**
     * IOTLB on: {@link NetDriver#configure()}, registers the device with {@code manager} (guest memory: this
     * loopback's), maps both used rings through {@code translator} (they must be mapped before the backend
     * starts), then {@link NetDriver#attach(io.vhost4j.NetBackend)}. The driver's config must use an IOVA {@link DmaWindow}.
     *
     * @throws IllegalStateException if the used rings could not be mapped (the fault went to the listener)
     */
    public ManagedDevice startWithIotlb(IotlbManager manager, Translator translator) throws VhostException {
        return startWithIotlb(manager, translator, MappingPolicy.exact());
    }

    /** As {@link #startWithIotlb(IotlbManager, Translator)}, the device answering misses as {@code policy} says. */
    public ManagedDevice startWithIotlb(IotlbManager manager, Translator translator, MappingPolicy policy)
            throws VhostException {
        DmaWindow dma = driver.config().dma();
        if (dma.kind() != io.vhost4j.AddressKind.IOVA) {
            throw new IllegalStateException("the driver was not configured with IOVA addressing");
        }
        driver.configure();
        ManagedDevice md = manager.register(net, memory.memoryTable(), translator, policy);
        for (DmaRange used : driver.usedRings()) {
            if (!md.prefault(used.deviceAddress(), used.size(), io.vhost4j.Access.WO)) {
                md.unregister();
                throw new IllegalStateException("could not map the used ring at IOVA 0x"
                        + Long.toHexString(used.deviceAddress()));
            }
        }
        driver.attach(backend);
        return md;
    }

    /**
     * A guest-like vIOMMU for this loopback ({@link VirtualIommu}): its streaming area of {@code streamingPages}
     * pages lies just below the IOVA of the driver's base, and the rings are mapped there at their
     * {@link DmaWindow} addresses, RW. Give it to {@link #startWithViommu}.
     */
    public VirtualIommu viommu(VirtualIommu.Mode mode, int streamingPages, int lazyFlushPages,
                               Duration lazyFlushAfter) {
        long iovaBase = driver.rings().deviceAddress() - streamingPages * 4096L;
        int pages = streamingPages + (int) (memory.regions().get(0).size() / 4096);
        VirtualIommu v = mode == VirtualIommu.Mode.STRICT ? VirtualIommu.strict(iovaBase, pages, streamingPages)
                : VirtualIommu.lazy(iovaBase, pages, streamingPages, lazyFlushPages, lazyFlushAfter);
        DmaRange rings = driver.rings();
        v.mapAt(rings.deviceAddress(), rings.guestPhysAddress(), rings.size(), io.vhost4j.Access.RW);
        return v;
    }

    /**
     * IOTLB on, every buffer mapped through {@code viommu} before it is posted and unmapped after use
     * ({@link NetDriver#mapBuffersWith}); the device is registered with {@code manager} under {@code policy} and the
     * vIOMMU's invalidations go through it. The driver's config must use an IOVA {@link DmaWindow} and direct TX.
     */
    public ManagedDevice startWithViommu(IotlbManager manager, VirtualIommu viommu, MappingPolicy policy)
            throws VhostException {
        driver.mapBuffersWith(viommu);
        ManagedDevice md = startWithIotlb(manager, viommu, policy);
        viommu.invalidateWith(md::invalidate);
        return md;
    }

    /** A vIOMMU model over this loopback's memory: IOVA = GPA + the driver's offset, in {@code granule} pieces, RW. */
    public OffsetTranslator offsetTranslator(long granule) {
        return new OffsetTranslator(driver.config().dma().iovaOffset(), GUEST_BASE, memory.regions().get(0).size(),
                granule, io.vhost4j.Access.RW);
    }

    /** {@link NetDriver#configure()} then {@link NetDriver#attach(io.vhost4j.NetBackend)}: IOTLB off, ready for traffic. */
    public NetLoopback start() throws VhostException {
        if (backend instanceof PacketBackend) {
            driver.vhostAddsHeader();
        }
        driver.configure();
        driver.attach(backend);
        return this;
    }

    /** The vhost-net device the driver configures. */
    public VhostNet net() { return net; }

    /** The guest memory the driver's rings and buffers live in. */
    public GuestMemory memory() { return memory; }

    /**
     * The tap this loopback runs on.
     *
     * @throws IllegalStateException if its backend is not a tap ({@link #backend()})
     */
    public Tap tap() {
        if (backend instanceof Tap t) {
            return t;
        }
        throw new IllegalStateException("this loopback runs on " + backend + ", not a tap");
    }

    /** The backend of both queues. */
    public NetBackend backend() { return backend; }

    /** The packet socket on the backend's interface: the far end of the loop. */
    public PacketSocket peer() { return peer; }

    /** The guest-side virtio-net driver. */
    public NetDriver driver() { return driver; }

    /** Frames of other EtherTypes that reached the RX queue (the host's own traffic), skipped. */
    public int foreignFrames() { return foreignFrames; }

    /** Frame sizes cycle through 60..1514 bytes as {@code seq} grows ({@link Frames#sizeOf}). */
    public static int sizeOf(int seq) {
        return Frames.sizeOf(seq);
    }

    /**
     * Frame {@code seq} of {@code size} bytes, 60..{@value NetDriver#MAX_FRAME} (valid until the next call).
     *
     * @throws IllegalArgumentException for a size outside that range
     */
    public MemorySegment frame(int seq, int size) {
        if (size < 60 || size > NetDriver.MAX_FRAME) {
            throw new IllegalArgumentException("a frame of " + size + " bytes: 60.." + NetDriver.MAX_FRAME);
        }
        return Frames.fill(frame.asSlice(0, size), seq, false);
    }

    /** Frame {@code seq} of {@link #sizeOf(int)} bytes. */
    public MemorySegment frame(int seq) {
        return frame(seq, sizeOf(seq));
    }

    /** Receives one frame on the packet socket and checks it is frame {@code seq}, byte for byte. */
    public void expectOnTap(int seq, Duration timeout) throws IOException {
        java.util.Objects.requireNonNull(timeout, "timeout");
        int n = peer.receive(got, timeout);
        if (n < 0) {
            throw new FrameCheckException("frame " + seq + " never reached the peer of " + backend);
        }
        check(seq, n, "tap");
    }

    /** Receives one frame through the driver's RX queue and checks it is frame {@code seq}, byte for byte. */
    public void expectOnRx(int seq, Duration timeout) throws IOException {
        java.util.Objects.requireNonNull(timeout, "timeout");
        while (true) {
            int n = driver.receive(got, timeout);
            if (n < 0) {
                throw new FrameCheckException("frame " + seq + " never reached the RX queue");
            }
            if (Frames.check(got, n, false, "RX queue") < 0) {
                foreignFrames++;
                continue;
            }
            check(seq, n, "RX queue");
            return;
        }
    }

    /** Whether nothing arrives on the packet socket within {@code wait} (no duplicates, or a stall). */
    public boolean tapSilent(Duration wait) throws VhostException {
        java.util.Objects.requireNonNull(wait, "wait");
        return peer.receive(got, wait) < 0;
    }

    private void check(int seq, int n, String where) throws FrameCheckException {
        int gotSeq = Frames.check(got, n, false, where);
        if (gotSeq != seq) {
            throw new FrameCheckException("expected frame " + seq + " on the " + where + ", got frame " + gotSeq
                    + " (lost or out of order)");
        }
    }

    /** Checks a run's arguments: frames {@code from .. from+count-1} (no overflow) in batches of at least one. */
    static void checkRun(int from, int count, int batch) {
        if (from < 0 || count < 0 || batch < 1 || from + count < 0) {
            throw new IllegalArgumentException("a run of " + count + " frames from " + from + " in batches of " + batch
                    + ": from >= 0, count >= 0 (from + count below 2^31), batch >= 1");
        }
    }

    /** Transmits frames {@code from .. from+count-1} in batches, checking each on the tap. */
    public void txRun(int from, int count, int batch, Duration timeout) throws IOException {
        java.util.Objects.requireNonNull(timeout, "timeout");
        checkRun(from, count, batch);
        for (int i = from; i < from + count; i += batch) {
            int end = Math.min(from + count, i + batch);
            for (int s = i; s < end; s++) {
                if (!driver.transmit(frame(s), timeout)) {
                    throw new FrameCheckException("no TX slot came free for frame " + s);
                }
            }
            for (int s = i; s < end; s++) {
                expectOnTap(s, timeout);
            }
        }
    }

    /** Sends frames {@code from .. from+count-1} into the tap in batches, checking each in the RX queue. */
    public void rxRun(int from, int count, int batch, Duration timeout) throws IOException {
        java.util.Objects.requireNonNull(timeout, "timeout");
        checkRun(from, count, batch);
        for (int i = from; i < from + count; i += batch) {
            int end = Math.min(from + count, i + batch);
            for (int s = i; s < end; s++) {
                peer.send(frame(s));
            }
            for (int s = i; s < end; s++) {
                expectOnRx(s, timeout);
            }
        }
    }

    /** Closes everything (driver, socket, tap, device, memory); closing twice is harmless. */
    @Override
    public void close() {
        if (!arena.scope().isAlive()) {
            return;
        }
        driver.close();
        peer.close();
        switch (backend) {
            case Tap t -> t.close();
            case PacketBackend p -> p.close();
        }
        net.close();
        memory.close();
        arena.close();
    }

    /** A frame did not arrive, or arrived different from what was sent. */
    public static final class FrameCheckException extends IOException {
        private static final long serialVersionUID = 1L;

        /** A failed check, described by {@code message}. */
        public FrameCheckException(String message) {
            super(message);
        }
    }
}
