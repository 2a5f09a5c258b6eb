package io.vhost4j.testkit;

import io.vhost4j.BackendFeature;
import io.vhost4j.DeviceKind;
import io.vhost4j.DeviceStatus;
import io.vhost4j.DeviceStatusBit;
import io.vhost4j.EventFd;
import io.vhost4j.Features;
import io.vhost4j.NetBackend;
import io.vhost4j.NetFeature;
import io.vhost4j.PacketBackend;
import io.vhost4j.Tap;
import io.vhost4j.VhostException;
import io.vhost4j.VhostDevice;
import io.vhost4j.VhostNet;
import io.vhost4j.VhostFeature;
import io.vhost4j.VhostVdpa;
import io.vhost4j.VirtioFeature;
import io.vhost4j.internal.sys.Deadline;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * A userspace virtio-net driver over vhost-net or a vDPA net device: RX queue 0 and TX queue 1 as {@link SplitQueue}s in
 * {@link GuestMemory}, frames with the 12-byte {@code virtio_net_hdr_v1} header, {@code MRG_RXBUF} when
 * configured. It does what a guest's virtio-net driver does, without a VM.
 *
 * <p>Lifecycle: {@link #create} lays out the rings and buffers; {@link #configure()} does every ioctl up
 * to the backend (owner, features, memory table, rings, eventfds) and posts the RX buffers;
 * {@link #attach(NetBackend)} starts both queues on a tap (or another backend); {@link #detach()} stops them, keeping ring state, so
 * {@link #attach} can resume. With the device IOTLB on, the used rings must be mapped between
 * {@code configure()} and {@code attach()} (see {@link #usedRings()}). One thread drives a driver.
 *
 * <p>Over vhost-vdpa ({@link #create(VhostVdpa, GuestMemory, long, Config)}) the driver plays the virtio driver's
 * part towards the device: {@link #configure()} negotiates the status (ACKNOWLEDGE, DRIVER, FEATURES_OK), sets up
 * and enables both queues and sets DRIVER_OK; there is no backend to attach. The caller sets the owner, acks the
 * backend features and maps the driver's memory (IOVA addressing) before {@code configure()}.
 */
public final class NetDriver implements AutoCloseable {
    /** Size of the virtio-net header on every frame (virtio_net_hdr_v1 / virtio_net_hdr_mrg_rxbuf). */
    public static final int HEADER_SIZE = 12;
    /** Largest frame (without header) this driver transmits or receives without GSO. */
    public static final int MAX_FRAME = 1514;
    /** Largest frame {@link #transmit(MemorySegment, VnetHeader, Duration)} takes: a 64 KiB IPv4 packet. */
    public static final int MAX_GSO_FRAME = 14 + 65535;
    private static final int TX_SLOT = 2048;
    /** Where in a TX slot the two-entry indirect table goes (after header + largest frame, 16-aligned). */
    private static final int TX_TABLE = TX_SLOT - 32;
    private static final long NUM_BUFFERS_OFFSET = 10;

    /**
     * Driver options.
     *
     * @param queueSize          entries per queue (power of two)
     * @param mergeableRxBuffers negotiate MRG_RXBUF: frames may span several RX buffers
     * @param eventIdx           negotiate VIRTIO_RING_F_EVENT_IDX
     * @param rxBufferSize       bytes per RX buffer (header included); at least 1526 without MRG_RXBUF, and with it
     *                           enough that the queue's buffers hold a 1514-byte frame and its header
     * @param dma                GPA or IOVA addressing (IOVA negotiates ACCESS_PLATFORM)
     * @param indirectTx         negotiate VIRTIO_RING_F_INDIRECT_DESC and send each frame as an indirect
     *                           chain of two buffers: the header, then the frame
     * @param inOrder            negotiate VIRTIO_F_IN_ORDER where the device offers it and MRG_RXBUF is off (the
     *                           queues then check that chains come back in order)
     */
    public record Config(int queueSize, boolean mergeableRxBuffers, boolean eventIdx, int rxBufferSize,
                         DmaWindow dma, boolean indirectTx, boolean inOrder) {
        /** Validates the buffer size against the MRG_RXBUF choice. */
        public Config {
            SplitQueue.checkSize(queueSize);
            java.util.Objects.requireNonNull(dma, "dma");
            if (!mergeableRxBuffers && rxBufferSize < HEADER_SIZE + MAX_FRAME) {
                throw new IllegalArgumentException("RX buffers of " + rxBufferSize + " bytes need MRG_RXBUF (at least "
                        + (HEADER_SIZE + MAX_FRAME) + " without it)");
            }
            if (rxBufferSize <= HEADER_SIZE || rxBufferSize > 65536) {
                throw new IllegalArgumentException("RX buffer size " + rxBufferSize + " out of range");
            }
            long needed = (HEADER_SIZE + MAX_FRAME + rxBufferSize - 1) / rxBufferSize;
            if (needed > queueSize) { // such a frame would never arrive: the device waits for buffers forever
                throw new IllegalArgumentException("a " + MAX_FRAME + "-byte frame needs " + needed + " RX buffers of "
                        + rxBufferSize + " bytes; the queue holds " + queueSize);
            }
        }

        /**
         * 256 entries, no MRG_RXBUF, no EVENT_IDX, 2 KiB RX buffers, guest-physical addressing, IN_ORDER where
         * offered.
         */
        public static Config defaults() {
            return new Config(256, false, false, 2048, DmaWindow.PHYSICAL, false, true);
        }

        /** This config with {@code dma}. */
        public Config withDma(DmaWindow dma) {
            return new Config(queueSize, mergeableRxBuffers, eventIdx, rxBufferSize, dma, indirectTx, inOrder);
        }

        /** This config sending frames through indirect descriptors (or not). */
        public Config withIndirectTx(boolean indirect) {
            return new Config(queueSize, mergeableRxBuffers, eventIdx, rxBufferSize, dma, indirect, inOrder);
        }

        /** This config negotiating IN_ORDER where offered (or never). */
        public Config withInOrder(boolean inOrder) {
            return new Config(queueSize, mergeableRxBuffers, eventIdx, rxBufferSize, dma, indirectTx, inOrder);
        }

        /** Guest memory the driver lays out from its base address (not rounded). */
        long layoutBytes() {
            return 2 * SplitQueue.footprint(queueSize) + (long) queueSize * (rxBufferSize + TX_SLOT);
        }

        /** Guest memory the driver needs from its base address, rounded up to whole 4 KiB pages. */
        public long memoryNeeded() {
            return (layoutBytes() + 4095) & ~4095L;
        }
    }

    private final VhostDevice device;
    private final VhostNet net;   // null over vhost-vdpa
    private final VhostVdpa vdpa; // null over vhost-net
    private final GuestMemory memory;
    private final Config config;
    private final SplitQueue rx, tx;
    private final EventFd rxErr, txErr;
    private final long rxBufGpa, txBufGpa;
    private final int[] txSlotOfHead, rxSlotOfHead;
    private final int[] freeTxSlots;
    private final long[] txIovaOfHead, rxIovaOfHead; // with a mapper: each chain's mapped address
    private final int[] txLengthOfHead;
    private final int[][] txChainSlots; // the slots of a chain over several slots (GSO frames), else null
    private DmaMapper mapper;
    private boolean vhostHeader;
    private int freeTxCount;
    private long framesSent, framesReceived, bytesSent, bytesReceived;
    private int lastNumBuffers;
    private VnetHeader lastHeader = VnetHeader.NONE;
    private Features acked;

    private NetDriver(VhostDevice device, GuestMemory memory, long baseGpa, Config config) throws VhostException {
        this.device = device;
        this.net = device instanceof VhostNet n ? n : null;
        this.vdpa = device instanceof VhostVdpa v ? v : null;
        this.memory = memory;
        this.config = config;
        memory.slice(baseGpa, config.layoutBytes()); // the whole layout must fit in one region,
        DmaRange.of(config.dma(), baseGpa, config.layoutBytes()); // its device addresses must not wrap past 2^64
        int n = config.queueSize();
        long ring = SplitQueue.footprint(n);
        List<AutoCloseable> opened = new ArrayList<>();
        try {
            rx = track(opened, new SplitQueue(memory, baseGpa, n, config.dma(), config.eventIdx()));
            tx = track(opened, new SplitQueue(memory, baseGpa + ring, n, config.dma(), config.eventIdx()));
            rxErr = track(opened, EventFd.create());
            txErr = track(opened, EventFd.create());
        } catch (VhostException | RuntimeException e) {
            opened.forEach(NetDriver::closeQuietly);
            throw e;
        }
        rxBufGpa = baseGpa + 2 * ring;
        txBufGpa = rxBufGpa + (long) n * config.rxBufferSize();
        txSlotOfHead = new int[n];
        rxSlotOfHead = new int[n];
        freeTxSlots = new int[n];
        txIovaOfHead = new long[n];
        rxIovaOfHead = new long[n];
        txLengthOfHead = new int[n];
        txChainSlots = new int[n][];
        for (int i = 0; i < n; i++) {
            freeTxSlots[i] = n - 1 - i;
        }
        freeTxCount = n;
    }

    private static <T extends AutoCloseable> T track(List<AutoCloseable> opened, T c) {
        opened.add(c);
        return c;
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // closing eventfds does not fail
        }
    }

    /** Lays out the driver's rings and buffers in {@code memory} from {@code baseGpa}. */
    public static NetDriver create(VhostNet device, GuestMemory memory, long baseGpa, Config config)
            throws VhostException {
        return new NetDriver(device, memory, baseGpa, config);
    }

    /**
     * Lays out the driver's rings and buffers for a vDPA net device; {@code config} must use IOVA addressing (a
     * vDPA device reaches memory only through the mappings its VMM writes).
     */
    public static NetDriver create(VhostVdpa device, GuestMemory memory, long baseGpa, Config config)
            throws VhostException {
        if (config.dma().kind() != io.vhost4j.AddressKind.IOVA) {
            throw new IllegalArgumentException("a vDPA device needs IOVA addressing (Config.withDma(DmaWindow.iova(..)))");
        }
        return new NetDriver(device, memory, baseGpa, config);
    }

    /**
     * The features this driver acks: VERSION_1, plus MRG_RXBUF, EVENT_IDX, INDIRECT_DESC, ACCESS_PLATFORM as
     * configured; after {@link #configure()}, also IN_ORDER where the device offered it and the config wants it.
     */
    public Features features() {
        return acked != null ? acked : configuredFeatures();
    }

    private Features configuredFeatures() {
        Features f = Features.of(DeviceKind.NET, VirtioFeature.VERSION_1);
        if (config.mergeableRxBuffers()) {
            f = f.with(NetFeature.MRG_RXBUF);
        }
        if (config.eventIdx()) {
            f = f.with(VirtioFeature.RING_EVENT_IDX);
        }
        if (config.indirectTx()) {
            f = f.with(VirtioFeature.RING_INDIRECT_DESC);
        }
        if (config.dma().kind() == io.vhost4j.AddressKind.IOVA) {
            f = f.with(VirtioFeature.ACCESS_PLATFORM);
        }
        if (vhostHeader) {
            f = f.with(VhostFeature.NET_VIRTIO_NET_HDR);
        }
        return f;
    }

    /**
     * Maps every buffer through {@code mapper} the way a guest's DMA API does: each RX buffer (device-writable) and
     * each TX frame (device-readable) is mapped before it is posted and unmapped after the device used it; the
     * descriptors carry the addresses the mapper returns. The rings keep their {@link DmaWindow} addresses (they
     * stand for coherent mappings the mapper's vIOMMU must also translate). Call before {@link #configure()}; needs
     * IOVA addressing, and not indirect TX.
     */
    public void mapBuffersWith(DmaMapper mapper) {
        if (acked != null) {
            throw new IllegalStateException("the driver is configured already: set the mapper before configure()");
        }
        if (config.dma().kind() != io.vhost4j.AddressKind.IOVA || config.indirectTx()) {
            throw new IllegalStateException("a DMA mapper needs IOVA addressing and direct TX chains");
        }
        this.mapper = java.util.Objects.requireNonNull(mapper, "mapper");
    }

    /** Refuses {@code call} before {@link #configure()}: its queues are not set up (a frame would stay in flight). */
    private void checkConfigured(String call) {
        if (acked == null) {
            throw new IllegalStateException(call + " before configure(): the queues are not set up");
        }
    }

    /**
     * Everything up to the backend: owner, features (and backend feature IOTLB_MSG_V2 with the IOTLB on),
     * memory table, both rings, kick/call/err eventfds; then posts every RX buffer. Once per driver. On vhost-net a
     * failure after the owner was set resets the owner (the device as it was: {@code configure} may be called again).
     *
     * @throws IllegalStateException if it was configured already
     */
    public void configure() throws VhostException {
        if (acked != null) {
            throw new IllegalStateException("the driver is configured already");
        }
        if (vdpa != null) {
            configureVdpa();
            return;
        }
        net.setOwner();
        try {
            configureOwnedNet();
        } catch (VhostException | RuntimeException e) {
            acked = null;
            try {
                net.resetOwner();
            } catch (VhostException | RuntimeException undo) {
                e.addSuppressed(undo);
            }
            throw e;
        }
        for (int i = 0; i < config.queueSize(); i++) {
            postRx(i);
        }
    }

    /** {@link #configure()} on vhost-net once this process owns the device: everything after the owner. */
    private void configureOwnedNet() throws VhostException {
        VhostNet device = net;
        if (config.dma().kind() == io.vhost4j.AddressKind.IOVA
                && device.getBackendFeatures().has(BackendFeature.IOTLB_MSG_V2)) {
            device.setBackendFeatures(io.vhost4j.BackendFeatures.of(BackendFeature.IOTLB_MSG_V2));
        }
        Features f = configuredFeatures();
        // Not with MRG_RXBUF: under IN_ORDER vhost-net reports a frame spread over several RX buffers with one used
        // entry, without the per-buffer lengths this driver gathers by.
        if (config.inOrder() && !config.mergeableRxBuffers() && device.getFeatures().has(VirtioFeature.IN_ORDER)) {
            f = f.with(VirtioFeature.IN_ORDER);
        }
        device.setFeatures(f);
        acked = f;
        rx.expectInOrder(f.has(VirtioFeature.IN_ORDER));
        tx.expectInOrder(f.has(VirtioFeature.IN_ORDER));
        device.setMemTable(memory.memoryTable());
        SplitQueue[] queues = {rx, tx};
        EventFd[] errs = {rxErr, txErr};
        for (int q = 0; q < 2; q++) {
            device.setVringNum(q, config.queueSize());
            device.setVringBase(q, queues[q].availIndex());
            device.setVringAddr(queues[q].vringAddr(q));
            device.setVringKick(q, queues[q].kickFd());
            device.setVringCall(q, queues[q].callFd());
            device.setVringErr(q, errs[q]);
        }
    }

    /**
     * The vhost-vdpa path of {@link #configure()}: status ACKNOWLEDGE and DRIVER, the features (those configured
     * that the device offers; VERSION_1 and ACCESS_PLATFORM must be offered), FEATURES_OK (checked to stick),
     * both queues set up and enabled, DRIVER_OK; then every RX buffer posted and kicked.
     */
    private void configureVdpa() throws VhostException {
        DeviceStatus status = DeviceStatus.of(DeviceStatusBit.ACKNOWLEDGE);
        vdpa.setStatus(status);
        status = status.with(DeviceStatusBit.DRIVER);
        vdpa.setStatus(status);
        Features offered = vdpa.getFeatures();
        Features f = configuredFeatures().with(VirtioFeature.ACCESS_PLATFORM);
        if (!offered.containsAll(f)) {
            throw new IllegalStateException("the vDPA device offers " + offered + ", the driver needs " + f);
        }
        vdpa.setFeatures(f);
        acked = f;
        status = status.with(DeviceStatusBit.FEATURES_OK);
        vdpa.setStatus(status);
        if (!vdpa.getStatus().has(DeviceStatusBit.FEATURES_OK)) {
            throw new IllegalStateException("the vDPA device did not accept features " + f);
        }
        SplitQueue[] queues = {rx, tx};
        for (int q = 0; q < 2; q++) {
            vdpa.setVringNum(q, config.queueSize());
            vdpa.setVringBase(q, queues[q].availIndex());
            vdpa.setVringAddr(queues[q].vringAddr(q));
            vdpa.setVringKick(q, queues[q].kickFd());
            vdpa.setVringCall(q, queues[q].callFd());
            vdpa.setVringEnable(q, true);
        }
        vdpa.setStatus(status.with(DeviceStatusBit.DRIVER_OK));
        for (int i = 0; i < config.queueSize(); i++) {
            postRx(i);
        }
        rx.kick();
    }

    /** The RX and TX used rings, in that order: with the device IOTLB on they must be mapped before attach. */
    public List<DmaRange> usedRings() {
        return List.of(DmaRange.of(config.dma(), rx.usedGuestAddr(), rx.usedRingBytes()),
                DmaRange.of(config.dma(), tx.usedGuestAddr(), tx.usedRingBytes()));
    }

    /** Both queues' rings (descriptor tables, available and used rings), one range from the driver's base. */
    public DmaRange rings() {
        return DmaRange.of(config.dma(), rxBufGpa - 2 * SplitQueue.footprint(config.queueSize()),
                2 * SplitQueue.footprint(config.queueSize()));
    }

    /** The RX buffer area: {@code queueSize} buffers of {@code rxBufferSize} bytes, written by the device. */
    public DmaRange rxBuffers() {
        return DmaRange.of(config.dma(), rxBufGpa, (long) config.queueSize() * config.rxBufferSize());
    }

    /**
     * The TX buffer area: {@code queueSize} slots of 2 KiB, read by the device (header, frame and, with
     * indirect TX, the slot's two-entry descriptor table).
     */
    public DmaRange txBuffers() {
        return DmaRange.of(config.dma(), txBufGpa, (long) config.queueSize() * TX_SLOT);
    }

    /**
     * Signals both kick eventfds whatever the device asked for: resumes a queue whose used ring says NO_NOTIFY
     * because the device stopped on a fault (e.g. an IOTLB miss that was answered late).
     */
    public void forceKick() throws VhostException {
        rx.forceKick();
        tx.forceKick();
    }

    /**
     * Starts both queues on {@code backend} ({@code VHOST_NET_SET_BACKEND}); kicks RX so posted buffers are seen.
     * A {@link PacketBackend} needs {@link #vhostAddsHeader()} before {@link #configure()}.
     */
    public void attach(NetBackend backend) throws VhostException {
        checkConfigured("attach");
        VhostNet device = vhostNet("attach");
        if (backend instanceof PacketBackend && !vhostHeader) {
            throw new IllegalStateException("a packet socket has no vnet header: call vhostAddsHeader() before"
                    + " configure()");
        }
        device.setBackend(VhostNet.RX, backend);
        device.setBackend(VhostNet.TX, backend);
        rx.kick();
        tx.kick();
    }

    /**
     * Acks {@link VhostFeature#NET_VIRTIO_NET_HDR}: vhost-net adds and strips the virtio-net header itself, for a
     * backend that carries none (a {@link PacketBackend}). Call before {@link #configure()}.
     */
    public void vhostAddsHeader() {
        if (acked != null) {
            throw new IllegalStateException("the driver is configured already: call vhostAddsHeader() before configure()");
        }
        vhostHeader = true;
    }

    /** Stops both queues ({@code VHOST_NET_SET_BACKEND -1}); the rings keep their state for a later attach. */
    public void detach() throws VhostException {
        VhostNet device = vhostNet("detach");
        device.removeBackend(VhostNet.RX);
        device.removeBackend(VhostNet.TX);
    }

    private void postRx(int slot) throws VhostException {
        long gpa = rxBufGpa + (long) slot * config.rxBufferSize();
        int size = config.rxBufferSize();
        long iova = mapper == null ? SplitQueue.Buffer.BY_WINDOW : mapper.map(gpa, size, io.vhost4j.Access.WO);
        int head = rx.add(SplitQueue.Buffer.mapped(gpa, iova, size, true));
        if (head < 0) {
            throw new IllegalStateException("RX queue full");
        }
        rxSlotOfHead[head] = slot;
        rxIovaOfHead[head] = iova;
    }

    /** The RX buffer of a used chain back from the device: unmapped, and its slot. */
    private int rxDone(SplitQueue.Used u) throws VhostException {
        if (mapper != null) {
            mapper.unmap(rxIovaOfHead[u.head()], config.rxBufferSize());
        }
        return rxSlotOfHead[u.head()];
    }

    /** A TX chain back from the device: unmapped, its slot free. */
    private void txDone(SplitQueue.Used u) throws VhostException {
        int[] chain = txChainSlots[u.head()];
        if (chain != null) {
            for (int slot : chain) {
                freeTxSlots[freeTxCount++] = slot;
            }
            txChainSlots[u.head()] = null;
            return;
        }
        if (mapper != null) {
            mapper.unmap(txIovaOfHead[u.head()], txLengthOfHead[u.head()]);
        }
        freeTxSlots[freeTxCount++] = txSlotOfHead[u.head()];
    }

    private VhostNet vhostNet(String op) {
        if (net == null) {
            throw new IllegalStateException(op + " is for vhost-net; " + device.path() + " is a vDPA device");
        }
        return net;
    }

    /** Throws if vhost signalled an error eventfd. */
    public void checkErrors() throws VringErrorException, VhostException {
        long n = rxErr.drain();
        if (n != 0) {
            throw new VringErrorException(device.path(), VhostNet.RX, n);
        }
        n = txErr.drain();
        if (n != 0) {
            throw new VringErrorException(device.path(), VhostNet.TX, n);
        }
    }

    private SplitQueue.Used waitUsed(SplitQueue q, Duration timeout) throws IOException {
        Deadline deadline = Deadline.after(timeout);
        while (true) {
            SplitQueue.Used u = q.pollUsed();
            if (u != null) {
                return u;
            }
            checkErrors();
            long left = deadline.nanosLeft();
            if (left <= 0) {
                return null;
            }
            u = q.awaitUsed(Duration.ofNanos(Math.min(left, 20_000_000L)));
            if (u != null) {
                return u;
            }
        }
    }

    /** Frees the TX slots of every chain the device has sent (unmapping them with a mapper); returns how many. */
    public int reclaimTx() throws VhostException {
        int n = 0;
        for (SplitQueue.Used u; (u = tx.pollUsed()) != null; n++) {
            txDone(u);
        }
        return n;
    }

    /**
     * Queues one Ethernet frame (60..{@value #MAX_FRAME} bytes, no header) on the TX queue and kicks the
     * device, waiting up to {@code timeout} for a free slot.
     *
     * @return false if no slot came free in time
     */
    public boolean transmit(MemorySegment frame, Duration timeout) throws IOException {
        java.util.Objects.requireNonNull(timeout, "timeout");
        checkConfigured("transmit");
        if (!queueTx(frame, VnetHeader.NONE, timeout, MAX_FRAME)) { // checked above: not the public queueTx again
            return false;
        }
        tx.kick();
        return true;
    }

    /**
     * Queues one frame with {@code header} and kicks: a frame of up to {@value #MAX_GSO_FRAME} bytes with a GSO
     * header (the tap segments it, or hands it on whole where the host side takes GSO), over as many 2 KiB TX slots
     * as it needs, chained; waits up to {@code timeout} for them.
     *
     * @return false if not enough slots came free in time
     */
    public boolean transmit(MemorySegment frame, VnetHeader header, Duration timeout) throws IOException {
        java.util.Objects.requireNonNull(timeout, "timeout");
        checkConfigured("transmit");
        long len = frame.byteSize();
        if (len <= 0 || len > MAX_GSO_FRAME) {
            throw new IllegalArgumentException("frame of " + len + " bytes (1.." + MAX_GSO_FRAME + ")");
        }
        int total = (int) (HEADER_SIZE + len);
        int pieces = (total + TX_SLOT - 1) / TX_SLOT;
        if (pieces > 1 && (config.indirectTx() || mapper != null)) {
            throw new IllegalStateException("frames over one TX slot need direct chains and no DMA mapper");
        }
        if (pieces > config.queueSize()) {
            throw new IllegalArgumentException("a " + len + "-byte frame needs " + pieces + " descriptors; the queue has "
                    + config.queueSize());
        }
        Deadline deadline = Deadline.after(timeout);
        reclaimTx();
        while (freeTxCount < pieces || tx.numFree() < pieces) {
            SplitQueue.Used u = waitUsed(tx, Duration.ofNanos(deadline.nanosLeft()));
            if (u == null) {
                return false;
            }
            txDone(u);
            reclaimTx();
        }
        if (pieces == 1) {
            if (!queueTx(frame, header, timeout, config.indirectTx() ? MAX_FRAME : TX_SLOT - HEADER_SIZE)) {
                return false;
            }
            tx.kick();
            return true;
        }
        int[] slots = new int[pieces];
        SplitQueue.Buffer[] chain = new SplitQueue.Buffer[pieces];
        for (int i = 0; i < pieces; i++) {
            slots[i] = freeTxSlots[--freeTxCount];
            long gpa = txBufGpa + (long) slots[i] * TX_SLOT;
            int from = i * TX_SLOT, n = Math.min(TX_SLOT, total - from);
            MemorySegment buf = memory.slice(gpa, n);
            if (i == 0) {
                header.write(buf, HEADER_SIZE);
                MemorySegment.copy(frame, 0, buf, HEADER_SIZE, n - HEADER_SIZE);
            } else {
                MemorySegment.copy(frame, from - HEADER_SIZE, buf, 0, n);
            }
            chain[i] = new SplitQueue.Buffer(gpa, n, false);
        }
        int head = tx.add(chain);
        txSlotOfHead[head] = slots[0];
        txChainSlots[head] = slots;
        txIovaOfHead[head] = SplitQueue.Buffer.BY_WINDOW;
        framesSent++;
        bytesSent += len;
        tx.kick();
        return true;
    }

    /**
     * As {@link #transmit}, without the kick: the frame is made available but not published, like a guest's
     * driver told that more frames follow ({@code xmit_more}). {@link #kickTx()} publishes what was queued.
     *
     * @return false if no slot came free in time
     */
    public boolean queueTx(MemorySegment frame, Duration timeout) throws IOException {
        java.util.Objects.requireNonNull(timeout, "timeout");
        checkConfigured("queueTx");
        return queueTx(frame, VnetHeader.NONE, timeout, MAX_FRAME);
    }

    private boolean queueTx(MemorySegment frame, VnetHeader header, Duration timeout, int maxLen) throws IOException {
        long len = frame.byteSize();
        if (len <= 0 || len > maxLen) {
            throw new IllegalArgumentException("frame of " + len + " bytes (1.." + maxLen + ")");
        }
        reclaimTx();
        if (freeTxCount == 0) {
            SplitQueue.Used u = waitUsed(tx, timeout);
            if (u == null) {
                return false;
            }
            txDone(u);
            reclaimTx();
        }
        int slot = freeTxSlots[--freeTxCount];
        long gpa = txBufGpa + (long) slot * TX_SLOT;
        MemorySegment buf = memory.slice(gpa, HEADER_SIZE + len);
        header.write(buf, HEADER_SIZE);
        MemorySegment.copy(frame, 0, buf, HEADER_SIZE, len);
        int total = (int) (HEADER_SIZE + len);
        long iova = mapper == null ? SplitQueue.Buffer.BY_WINDOW : mapper.map(gpa, total, io.vhost4j.Access.RO);
        int head = config.indirectTx()
                ? tx.addIndirect(gpa + TX_TABLE, new SplitQueue.Buffer(gpa, HEADER_SIZE, false),
                        new SplitQueue.Buffer(gpa + HEADER_SIZE, (int) len, false))
                : tx.add(SplitQueue.Buffer.mapped(gpa, iova, total, false));
        txSlotOfHead[head] = slot;
        txChainSlots[head] = null;
        txIovaOfHead[head] = iova;
        txLengthOfHead[head] = total;
        framesSent++;
        bytesSent += len;
        return true;
    }

    /** Publishes the frames {@link #queueTx} queued and kicks the device if it asked for it. */
    public void kickTx() throws VhostException {
        checkConfigured("kickTx");
        tx.kick();
    }

    /**
     * The guest-physical address of the TX slot the next {@link #transmit} fills (after reclaiming the used ones):
     * for tests that need to know which guest page a frame goes through.
     *
     * @throws IllegalStateException if every slot is in flight
     */
    public long nextTxGuestAddr() throws VhostException {
        reclaimTx();
        if (freeTxCount == 0) {
            throw new IllegalStateException("every TX slot is in flight");
        }
        return txBufGpa + (long) freeTxSlots[freeTxCount - 1] * TX_SLOT;
    }

    /** Waits until every queued TX frame was used by the device, up to {@code timeout}; false on timeout. */
    public boolean flushTx(Duration timeout) throws IOException {
        checkConfigured("flushTx");
        Deadline deadline = Deadline.after(timeout);
        while (true) {
            reclaimTx();
            if (tx.inFlight() == 0) {
                return true;
            }
            long left = deadline.nanosLeft();
            if (left <= 0) {
                return false;
            }
            SplitQueue.Used u = waitUsed(tx, Duration.ofNanos(left));
            if (u != null) {
                txDone(u);
            }
        }
    }

    /**
     * Receives one frame into {@code dst} (header stripped), waiting up to {@code timeout}; with MRG_RXBUF
     * gathers every buffer the header's {@code num_buffers} names. The buffers are posted again.
     *
     * @return the frame's length, or -1 if none arrived in time
     */
    public int receive(MemorySegment dst, Duration timeout) throws IOException {
        java.util.Objects.requireNonNull(timeout, "timeout");
        checkConfigured("receive");
        SplitQueue.Used u = waitUsed(rx, timeout);
        if (u == null) {
            return -1;
        }
        int slot = rxDone(u);
        long gpa = rxBufGpa + (long) slot * config.rxBufferSize();
        lastHeader = VnetHeader.read(memory.slice(gpa, HEADER_SIZE), HEADER_SIZE);
        int numBuffers = config.mergeableRxBuffers()
                ? Short.toUnsignedInt(memory.slice(gpa, HEADER_SIZE).get(JAVA_SHORT, NUM_BUFFERS_OFFSET)) : 1;
        int total = u.length() - HEADER_SIZE;
        copyOut(gpa + HEADER_SIZE, total, dst, 0);
        postRx(slot);
        for (int i = 1; i < numBuffers; i++) {
            SplitQueue.Used more = waitUsed(rx, Duration.ofSeconds(5));
            if (more == null) {
                throw new IOException("frame announced " + numBuffers + " buffers, only " + i + " arrived");
            }
            int s = rxDone(more);
            copyOut(rxBufGpa + (long) s * config.rxBufferSize(), more.length(), dst, total);
            total += more.length();
            postRx(s);
        }
        rx.kick();
        lastNumBuffers = numBuffers;
        framesReceived++;
        bytesReceived += total;
        return total;
    }

    private void copyOut(long gpa, int len, MemorySegment dst, long dstOffset) {
        if (dstOffset + len > dst.byteSize()) {
            throw new IndexOutOfBoundsException("frame of " + (dstOffset + len) + " bytes does not fit a "
                    + dst.byteSize() + "-byte buffer");
        }
        MemorySegment.copy(memory.slice(gpa, len), 0, dst, dstOffset, len);
    }

    /** The RX queue, for tests and tools that post raw chains. */
    public SplitQueue rxQueue() { return rx; }

    /** The TX queue, for tests and tools that post raw chains. */
    public SplitQueue txQueue() { return tx; }

    /** The vhost-net device this driver runs ({@link IllegalStateException} over vhost-vdpa: see {@link #vdpa()}). */
    public VhostNet device() { return vhostNet("device()"); }

    /** The vDPA device this driver drives, or {@code null} over vhost-net. */
    public VhostVdpa vdpa() { return vdpa; }

    /** The configuration. */
    public Config config() { return config; }

    /** The virtio-net header of the last received frame (GSO type and size for a frame the host did not segment). */
    public VnetHeader lastHeader() { return lastHeader; }

    /** {@code num_buffers} of the last received frame (1 without MRG_RXBUF). */
    public int lastNumBuffers() { return lastNumBuffers; }

    /** Frames queued for transmission so far. */
    public long framesSent() { return framesSent; }

    /** Frames received so far. */
    public long framesReceived() { return framesReceived; }

    /** Frame bytes (without headers) queued for transmission so far. */
    public long bytesSent() { return bytesSent; }

    /** Frame bytes (without headers) received so far. */
    public long bytesReceived() { return bytesReceived; }

    /** Closes the driver's eventfds; the device and the memory stay open (they belong to the caller). */
    @Override
    public void close() {
        rx.close();
        tx.close();
        rxErr.close();
        txErr.close();
    }
}
