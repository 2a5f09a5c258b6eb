package io.vhost4j.testkit;

import io.vhost4j.DeviceKind;
import io.vhost4j.EventFd;
import io.vhost4j.Features;
import io.vhost4j.VhostException;
import io.vhost4j.VhostVsock;
import io.vhost4j.VirtioFeature;
import io.vhost4j.VsockFeature;
import io.vhost4j.internal.gen.virtio_vsock_hdr;
import io.vhost4j.internal.sys.Deadline;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayDeque;

import static io.vhost4j.internal.gen.VhostH.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * A userspace virtio-vsock driver over vhost-vsock: the guest side of the host's {@code AF_VSOCK} sockets, without a
 * VM. RX queue 0 and TX queue 1 as {@link SplitQueue}s in {@link GuestMemory} (queue 2, the event queue, belongs to
 * the VMM, not to vhost-vsock), packets of {@code struct virtio_vsock_hdr} plus up to {@value #MAX_PAYLOAD} bytes, and
 * one connection at a time with the protocol's credit flow control: the guest advertises {@value #BUF_ALLOC} bytes of
 * receive buffer and the bytes it consumed ({@code fwd_cnt}), and sends no more than the host's credit allows.
 * {@code SOCK_SEQPACKET} keeps message boundaries (the EOM flag) where the device offers it. Single-threaded: the
 * caller's thread pumps the queues in {@link Connection#read}/{@link Connection#write}.
 */
public final class VsockDriver implements AutoCloseable {
    /** The host's CID. */
    public static final long HOST_CID = 2;
    /** Bytes of {@code struct virtio_vsock_hdr}. */
    public static final int HEADER = (int) virtio_vsock_hdr.sizeof();
    /** Payload bytes per packet this driver sends (Linux's RX buffer size); the host may fill RX buffers whole. */
    public static final int MAX_PAYLOAD = 4096;
    /** The receive buffer this driver advertises. */
    public static final int BUF_ALLOC = 256 << 10;
    private static final int SLOT = (HEADER + MAX_PAYLOAD + 63) & ~63;

    /** One packet as it crossed the ring. */
    public record Packet(long srcCid, long dstCid, int srcPort, int dstPort, int type, int op, int flags, int bufAlloc,
                         int fwdCnt, byte[] payload) {}

    private final VhostVsock device;
    private final GuestMemory memory;
    private final int size;
    private final SplitQueue rx, tx;
    private final long rxBufGpa, txBufGpa;
    private final int[] rxSlotOfHead, txSlotOfHead, freeTx;
    private int freeTxCount;
    private long cid;
    private boolean seqpacket;
    private boolean started;
    private final ArrayDeque<Packet> backlog = new ArrayDeque<>(); // received while looking for something else

    private VsockDriver(VhostVsock device, GuestMemory memory, long baseGpa, int size) throws VhostException {
        this.device = device;
        this.memory = memory;
        this.size = size;
        java.util.Objects.requireNonNull(memory, "memory").slice(baseGpa, memoryNeeded(size)); // fits in one region
        long ring = SplitQueue.footprint(size);
        SplitQueue r = new SplitQueue(memory, baseGpa, size, DmaWindow.PHYSICAL, false);
        try {
            tx = new SplitQueue(memory, baseGpa + ring, size, DmaWindow.PHYSICAL, false);
        } catch (VhostException | RuntimeException e) {
            r.close();
            throw e;
        }
        rx = r;
        rxBufGpa = baseGpa + 2 * ring;
        txBufGpa = rxBufGpa + (long) size * SLOT;
        rxSlotOfHead = new int[size];
        txSlotOfHead = new int[size];
        freeTx = new int[size];
        for (int i = 0; i < size; i++) {
            freeTx[i] = size - 1 - i;
        }
        freeTxCount = size;
    }

    /** Guest memory a driver of {@code queueSize} needs from its base (rings and buffers). */
    public static long memoryNeeded(int queueSize) {
        return 2 * SplitQueue.footprint(queueSize) + 2L * queueSize * SLOT;
    }

    /** Lays the driver out in {@code memory} from {@code baseGpa}. */
    public static VsockDriver create(VhostVsock device, GuestMemory memory, long baseGpa, int queueSize)
            throws VhostException {
        return new VsockDriver(device, memory, baseGpa, queueSize);
    }

    /**
     * Guest CID {@code guestCid}, owner, features (VERSION_1, and SEQPACKET where offered), memory table, both rings,
     * running, RX buffers posted. Once per driver. The CID comes first (the kernel takes it without an owner), so a
     * CID in use (EADDRINUSE) leaves the device as it was and {@code start} may be called again with another; a
     * failure after the owner was set leaves the device owned (vhost-vsock cannot drop its owner: close it).
     *
     * @throws IllegalStateException if it was started already
     */
    public void start(long guestCid) throws VhostException {
        if (started) {
            throw new IllegalStateException("the vsock driver was started already");
        }
        device.setGuestCid(guestCid); // first: it refuses a reserved CID before the kernel, and needs no owner
        cid = guestCid;
        device.setOwner();
        Features offered = device.getFeatures();
        Features f = Features.of(DeviceKind.VSOCK, VirtioFeature.VERSION_1);
        if (offered.has(VsockFeature.SEQPACKET)) {
            f = f.with(VsockFeature.SEQPACKET);
        }
        device.setFeatures(f);
        seqpacket = f.has(VsockFeature.SEQPACKET);
        device.setMemTable(memory.memoryTable());
        SplitQueue[] queues = {rx, tx};
        for (int q = 0; q < 2; q++) {
            device.setVringNum(q, size);
            device.setVringBase(q, queues[q].availIndex());
            device.setVringAddr(queues[q].vringAddr(q));
            device.setVringKick(q, queues[q].kickFd());
            device.setVringCall(q, queues[q].callFd());
        }
        device.setRunning(true);
        for (int i = 0; i < size; i++) {
            postRx(i);
        }
        rx.kick();
        started = true; // only now: traffic before a start that failed half-way is refused too
    }

    /** Whether SOCK_SEQPACKET was negotiated. */
    public boolean seqpacket() {
        return seqpacket;
    }

    /** The guest CID. */
    public long cid() {
        return cid;
    }

    private void postRx(int slot) {
        int head = rx.add(new SplitQueue.Buffer(rxBufGpa + (long) slot * SLOT, SLOT, true));
        rxSlotOfHead[head] = slot;
    }

    /** Refuses traffic before {@link #start}: the queues are not set up. */
    private void checkStarted(String call) {
        if (!started) {
            throw new IllegalStateException(call + " before start(): the queues are not set up");
        }
    }

    /** The next packet from the host, or {@code null} if none came within {@code timeout}. */
    public Packet receive(Duration timeout) throws VhostException {
        java.util.Objects.requireNonNull(timeout, "timeout");
        checkStarted("receive");
        if (!backlog.isEmpty()) {
            return backlog.poll();
        }
        SplitQueue.Used u = rx.awaitUsed(timeout);
        if (u == null) {
            return null;
        }
        int slot = rxSlotOfHead[u.head()];
        MemorySegment b = memory.slice(rxBufGpa + (long) slot * SLOT, SLOT);
        int len = virtio_vsock_hdr.len(b);
        if (len < 0 || HEADER + len > u.length()) { // the device fills a buffer whole: up to SLOT - HEADER
            throw new IllegalStateException("a packet of " + len + " bytes in a " + u.length() + "-byte used buffer");
        }
        Packet p = new Packet(virtio_vsock_hdr.src_cid(b), virtio_vsock_hdr.dst_cid(b), virtio_vsock_hdr.src_port(b),
                virtio_vsock_hdr.dst_port(b), Short.toUnsignedInt(virtio_vsock_hdr.type(b)),
                Short.toUnsignedInt(virtio_vsock_hdr.op(b)), virtio_vsock_hdr.flags(b), virtio_vsock_hdr.buf_alloc(b),
                virtio_vsock_hdr.fwd_cnt(b), b.asSlice(HEADER, len).toArray(JAVA_BYTE));
        postRx(slot);
        rx.kick();
        return p;
    }

    /** Sends one packet (payload at most {@value #MAX_PAYLOAD} bytes), waiting up to {@code timeout} for a TX slot. */
    public void send(int type, int op, int flags, int srcPort, int dstPort, int fwdCnt, byte[] payload, int off, int len,
                     Duration timeout) throws IOException {
        java.util.Objects.requireNonNull(timeout, "timeout");
        checkStarted("send");
        if (len < 0 || len > MAX_PAYLOAD) {
            throw new IllegalArgumentException("payload of " + len + " bytes (at most " + MAX_PAYLOAD + ")");
        }
        reclaimTx();
        if (freeTxCount == 0) {
            SplitQueue.Used u = tx.awaitUsed(timeout);
            if (u == null) {
                throw new IOException("no TX slot came free on vhost-vsock");
            }
            freeTx[freeTxCount++] = txSlotOfHead[u.head()];
        }
        int slot = freeTx[--freeTxCount];
        long gpa = txBufGpa + (long) slot * SLOT;
        MemorySegment b = memory.slice(gpa, HEADER + len);
        b.asSlice(0, HEADER).fill((byte) 0);
        virtio_vsock_hdr.src_cid(b, cid);
        virtio_vsock_hdr.dst_cid(b, HOST_CID);
        virtio_vsock_hdr.src_port(b, srcPort);
        virtio_vsock_hdr.dst_port(b, dstPort);
        virtio_vsock_hdr.len(b, len);
        virtio_vsock_hdr.type(b, (short) type);
        virtio_vsock_hdr.op(b, (short) op);
        virtio_vsock_hdr.flags(b, flags);
        virtio_vsock_hdr.buf_alloc(b, BUF_ALLOC);
        virtio_vsock_hdr.fwd_cnt(b, fwdCnt);
        if (len > 0) {
            MemorySegment.copy(MemorySegment.ofArray(payload), off, b, HEADER, len);
        }
        int head = tx.add(new SplitQueue.Buffer(gpa, HEADER + len, false));
        txSlotOfHead[head] = slot;
        tx.kick();
    }

    private void reclaimTx() {
        for (SplitQueue.Used u; (u = tx.pollUsed()) != null; ) {
            freeTx[freeTxCount++] = txSlotOfHead[u.head()];
        }
    }

    /**
     * Waits up to {@code timeout} for the host to connect to {@code port} ({@code SOCK_STREAM}, or
     * {@code SOCK_SEQPACKET}), answering RST to anything else meanwhile, and accepts.
     */
    public Connection accept(int port, boolean seqpacketType, Duration timeout) throws IOException {
        if (port == -1) {
            throw new IllegalArgumentException("port -1 is the \"any\" port (VMADDR_PORT_ANY), not one to accept on");
        }
        checkStarted("accept");
        int type = seqpacketType ? VIRTIO_VSOCK_TYPE_SEQPACKET() : VIRTIO_VSOCK_TYPE_STREAM();
        Deadline deadline = Deadline.after(timeout);
        while (true) {
            Packet p = receive(Duration.ofNanos(deadline.nanosLeft()));
            if (p == null) {
                throw new IOException("no connection to port " + port + " within " + timeout);
            }
            if (p.op() == VIRTIO_VSOCK_OP_REQUEST() && p.dstPort() == port && p.type() == type) {
                Connection c = new Connection(type, port, p.srcPort(), p.bufAlloc(), p.fwdCnt());
                send(type, VIRTIO_VSOCK_OP_RESPONSE(), 0, port, p.srcPort(), 0, new byte[0], 0, 0, timeout);
                return c;
            }
            refuse(p, timeout);
        }
    }

    /** Answers a packet nobody here wants with RST (a connection request to a port nobody listens on). */
    private void refuse(Packet p, Duration timeout) throws IOException {
        if (p.op() != VIRTIO_VSOCK_OP_RST()) {
            send(p.type(), VIRTIO_VSOCK_OP_RST(), 0, p.dstPort(), p.srcPort(), 0, new byte[0], 0, 0, timeout);
        }
    }

    /**
     * Serves packets for up to {@code timeout} as a guest with no listener: every connection request is answered
     * with RST. Returns how many were refused.
     */
    public int refuseAll(Duration timeout) throws IOException {
        Deadline deadline = Deadline.after(timeout);
        int refused = 0;
        for (Packet p; (p = receive(Duration.ofNanos(deadline.nanosLeft()))) != null; ) {
            if (p.op() == VIRTIO_VSOCK_OP_REQUEST()) {
                refused++;
            }
            refuse(p, timeout);
        }
        return refused;
    }

    /** One connection with the host: reads and writes pump the queues on the caller's thread. */
    public final class Connection {
        private final int type, localPort, peerPort;
        private int peerBufAlloc, peerFwdCnt;    // the host's receive buffer and what it has consumed
        private long txCnt;                      // bytes this side sent
        private long fwdCnt, advertisedFwdCnt;   // bytes this side consumed, and last told
        private final ByteArrayOutputStream inbound = new ByteArrayOutputStream();
        private byte[] pending = new byte[0];
        private int pendingOff;
        private final ArrayDeque<byte[]> messages = new ArrayDeque<>();
        private boolean peerSendShutdown, reset;

        private Connection(int type, int localPort, int peerPort, int peerBufAlloc, int peerFwdCnt) {
            this.type = type;
            this.localPort = localPort;
            this.peerPort = peerPort;
            this.peerBufAlloc = peerBufAlloc;
            this.peerFwdCnt = peerFwdCnt;
        }

        private void sendControl(int op, int flags, Duration timeout) throws IOException {
            send(type, op, flags, localPort, peerPort, (int) fwdCnt, new byte[0], 0, 0, timeout);
            advertisedFwdCnt = fwdCnt;
        }

        /** Handles one packet from the host; false if nothing came within {@code timeout}. */
        private boolean pump(Duration timeout) throws IOException {
            Packet p = receive(timeout);
            if (p == null) {
                return false;
            }
            if (p.dstPort() != localPort || p.srcPort() != peerPort) {
                refuse(p, timeout);
                return true;
            }
            peerBufAlloc = p.bufAlloc();
            peerFwdCnt = p.fwdCnt();
            int op = p.op();
            if (op == VIRTIO_VSOCK_OP_RW()) {
                inbound.write(p.payload(), 0, p.payload().length);
                if (type == VIRTIO_VSOCK_TYPE_SEQPACKET() && (p.flags() & VIRTIO_VSOCK_SEQ_EOM()) != 0) {
                    messages.add(inbound.toByteArray());
                    inbound.reset();
                }
            } else if (op == VIRTIO_VSOCK_OP_CREDIT_REQUEST()) {
                sendControl(VIRTIO_VSOCK_OP_CREDIT_UPDATE(), 0, timeout);
            } else if (op == VIRTIO_VSOCK_OP_SHUTDOWN()) {
                if ((p.flags() & VIRTIO_VSOCK_SHUTDOWN_SEND()) != 0) {
                    peerSendShutdown = true;
                }
                if ((p.flags() & (VIRTIO_VSOCK_SHUTDOWN_SEND() | VIRTIO_VSOCK_SHUTDOWN_RCV()))
                        == (VIRTIO_VSOCK_SHUTDOWN_SEND() | VIRTIO_VSOCK_SHUTDOWN_RCV())) {
                    sendControl(VIRTIO_VSOCK_OP_RST(), 0, timeout); // the host closed: the close completes with RST
                    reset = true;
                }
            } else if (op == VIRTIO_VSOCK_OP_RST()) {
                reset = true;
            }
            return true;
        }

        /** Counts {@code n} bytes as consumed, telling the host when a quarter of the buffer came free. */
        private void consumed(int n, Duration timeout) throws IOException {
            fwdCnt += n;
            if (fwdCnt - advertisedFwdCnt >= BUF_ALLOC / 4) {
                sendControl(VIRTIO_VSOCK_OP_CREDIT_UPDATE(), 0, timeout);
            }
        }

        /**
         * Reads up to {@code len} bytes of the stream into {@code dst}, waiting up to {@code timeout} for some.
         *
         * @return the bytes read, or -1 at the end of the stream (the host shut down sending, or reset)
         */
        public int read(byte[] dst, int off, int len, Duration timeout) throws IOException {
            Deadline deadline = Deadline.after(timeout);
            while (pendingOff == pending.length) {
                if (inbound.size() > 0) {
                    pending = inbound.toByteArray();
                    pendingOff = 0;
                    inbound.reset();
                    break;
                }
                if (peerSendShutdown || reset) {
                    return -1;
                }
                if (!pump(Duration.ofNanos(deadline.nanosLeft())) && deadline.passed()) {
                    throw new IOException("no data from the host within " + timeout);
                }
            }
            int n = Math.min(len, pending.length - pendingOff);
            System.arraycopy(pending, pendingOff, dst, off, n);
            pendingOff += n;
            consumed(n, timeout);
            return n;
        }

        /** SOCK_SEQPACKET: the next whole message, or {@code null} at the end. */
        public byte[] readMessage(Duration timeout) throws IOException {
            Deadline deadline = Deadline.after(timeout);
            while (messages.isEmpty()) {
                if (peerSendShutdown || reset) {
                    return null;
                }
                if (!pump(Duration.ofNanos(deadline.nanosLeft())) && deadline.passed()) {
                    throw new IOException("no message from the host within " + timeout);
                }
            }
            byte[] m = messages.poll();
            consumed(m.length, timeout);
            return m;
        }

        /** Writes {@code data} (one message with SOCK_SEQPACKET), within the host's credit, pumping meanwhile. */
        public void write(byte[] data, Duration timeout) throws IOException {
            Deadline deadline = Deadline.after(timeout);
            int off = 0;
            do {
                long credit = peerBufAlloc - (txCnt - (peerFwdCnt & 0xffff_ffffL));
                while (credit <= 0) {
                    if (reset) {
                        throw new IOException("connection reset by the host");
                    }
                    if (deadline.passed()) {
                        throw new IOException("the host gave no credit within " + timeout);
                    }
                    if (!pump(Duration.ofMillis(20))) {
                        sendControl(VIRTIO_VSOCK_OP_CREDIT_REQUEST(), 0, timeout);
                    }
                    credit = peerBufAlloc - (txCnt - (peerFwdCnt & 0xffff_ffffL));
                }
                int n = (int) Math.min(Math.min(MAX_PAYLOAD, credit), data.length - off);
                boolean last = off + n == data.length;
                int flags = type == VIRTIO_VSOCK_TYPE_SEQPACKET() && last ? VIRTIO_VSOCK_SEQ_EOM() : 0;
                send(type, VIRTIO_VSOCK_OP_RW(), flags, localPort, peerPort, (int) fwdCnt, data, off, n, timeout);
                advertisedFwdCnt = fwdCnt;
                txCnt += n;
                off += n;
            } while (off < data.length);
        }

        /** Shuts this side's sending down: the host reads end of stream. */
        public void shutdownOutput(Duration timeout) throws IOException {
            java.util.Objects.requireNonNull(timeout, "timeout");
            sendControl(VIRTIO_VSOCK_OP_SHUTDOWN(), VIRTIO_VSOCK_SHUTDOWN_SEND(), timeout);
        }

        /** Resets the connection (the host's next read or write fails with ECONNRESET). */
        public void reset(Duration timeout) throws IOException {
            java.util.Objects.requireNonNull(timeout, "timeout");
            sendControl(VIRTIO_VSOCK_OP_RST(), 0, timeout);
            reset = true;
        }

        /** Serves packets until the host closed or reset the connection, up to {@code timeout}; true if it did. */
        public boolean awaitClosed(Duration timeout) throws IOException {
            Deadline deadline = Deadline.after(timeout);
            while (!reset && !deadline.passed()) {
                pump(Duration.ofMillis(50));
            }
            return reset;
        }

        /** The host's port. */
        public int peerPort() {
            return peerPort;
        }
    }

    /** Stops the device ({@code SET_RUNNING 0}) and closes the eventfds; device and memory stay the caller's. */
    @Override
    public void close() {
        try {
            if (!device.isClosed()) {
                device.setRunning(false);
            }
        } catch (VhostException ignored) {
            // not started
        }
        rx.close();
        tx.close();
    }
}
