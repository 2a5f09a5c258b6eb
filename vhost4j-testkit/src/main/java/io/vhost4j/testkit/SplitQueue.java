package io.vhost4j.testkit;

import io.vhost4j.AddressKind;
import io.vhost4j.EventFd;
import io.vhost4j.VhostException;
import io.vhost4j.VringAddr;
import io.vhost4j.internal.sys.Deadline;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.time.Duration;

import static io.vhost4j.internal.gen.VhostH.*;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The driver side of a virtio 1.x split virtqueue in {@link GuestMemory}: descriptor table, available
 * ring and used ring, with the spec's alignment and memory ordering, optional
 * {@code VIRTIO_RING_F_EVENT_IDX}, and a kick and a call eventfd.
 *
 * <p>Use: {@link #add} buffer chains, {@link #kick()} the device (which publishes them and signals only
 * when the device wants it), then {@link #pollUsed()} or {@link #awaitUsed}. Not thread-safe: one driver
 * thread per queue, as in a guest.
 */
public final class SplitQueue implements AutoCloseable {
    /**
     * One buffer of a chain: a guest-physical range the device reads, or writes if {@code deviceWritable}.
     *
     * @param deviceAddr the address the descriptor carries, when a {@link DmaMapper} gave one; {@link #BY_WINDOW}
     *                   to derive it from the queue's {@link DmaWindow}
     */
    public record Buffer(long guestAddr, int length, boolean deviceWritable, long deviceAddr) {
        /** {@link #deviceAddr()} of a buffer addressed through the queue's {@link DmaWindow}. */
        public static final long BY_WINDOW = -1;

        /** Validates the length. */
        public Buffer {
            if (length <= 0) {
                throw new IllegalArgumentException("buffer length must be > 0, got " + length);
            }
        }

        /** A buffer addressed through the queue's {@link DmaWindow}. */
        public Buffer(long guestAddr, int length, boolean deviceWritable) {
            this(guestAddr, length, deviceWritable, BY_WINDOW);
        }

        /** A buffer the device finds at {@code deviceAddr} (e.g. an IOVA a {@link DmaMapper} gave). */
        public static Buffer mapped(long guestAddr, long deviceAddr, int length, boolean deviceWritable) {
            return new Buffer(guestAddr, length, deviceWritable, deviceAddr);
        }
    }

    /** A chain the device has used: its head descriptor and how many bytes the device wrote into it. */
    public record Used(int head, int length) {}

    private static final VarHandle U16 = JAVA_SHORT.varHandle();
    private static final long DESC_SIZE = 16;

    private final GuestMemory memory;
    private final DmaWindow dma;
    private final int size;
    private final boolean eventIdx;
    private final long descGpa, availGpa, usedGpa;
    private final MemorySegment desc, avail, used;
    private final short[] next;
    private final int[] chainLength;
    private final EventFd kickFd, callFd;
    private int freeHead;
    private int freeTail;      // IN_ORDER: free descriptors are a FIFO, so that they are taken in ring order
    private int numFree;
    private int availIdx;      // shadow of avail->idx (next slot to publish), u16 arithmetic
    private int publishedIdx;  // avail->idx as last published to the device
    private int lastUsedIdx;   // next used-ring entry to consume
    private int completedIdx;  // chains given back so far (u16): with IN_ORDER, the avail slot of the next one
    private boolean inOrder;   // VIRTIO_F_IN_ORDER negotiated: chains complete in the order they were made available
    private int pendingHead = -1, pendingLength; // IN_ORDER: the used entry that ends the batch being given back
    private long batchedChains; // IN_ORDER: chains completed by a later chain's used entry

    /** Bytes of guest memory a queue of {@code size} needs from {@code ringGpa} (rings only, 4 KiB aligned). */
    public static long footprint(int size) {
        checkSize(size);
        return align(usedOffset(size) + 6 + 8L * size, 4096);
    }

    /** Refuses a size the virtio split ring cannot have: a power of two from 1 to 32768. */
    static void checkSize(int size) {
        if (size <= 0 || size > 32768 || Integer.bitCount(size) != 1) {
            throw new IllegalArgumentException("queue size " + size + " is not a power of two in 1..32768");
        }
    }

    private static long usedOffset(int size) {
        return align(DESC_SIZE * size + 6 + 2L * size, 64);
    }

    private static long align(long v, long a) {
        return (v + a - 1) & -a;
    }

    /**
     * Lays out a queue of {@code size} entries at {@code ringGpa} (16-byte aligned) in {@code memory}.
     *
     * @param dma      how the device addresses guest memory (GPA, or IOVA with the IOTLB on)
     * @param eventIdx whether VIRTIO_RING_F_EVENT_IDX was negotiated
     */
    public SplitQueue(GuestMemory memory, long ringGpa, int size, DmaWindow dma, boolean eventIdx)
            throws VhostException {
        checkSize(size);
        java.util.Objects.requireNonNull(memory, "memory");
        java.util.Objects.requireNonNull(dma, "dma");
        if ((ringGpa & 15) != 0) {
            throw new IllegalArgumentException("ring address 0x" + Long.toHexString(ringGpa) + " not 16-byte aligned");
        }
        this.memory = memory;
        this.dma = dma;
        this.size = size;
        this.eventIdx = eventIdx;
        this.descGpa = ringGpa;
        this.availGpa = ringGpa + DESC_SIZE * size;
        this.usedGpa = ringGpa + usedOffset(size);
        this.desc = memory.slice(descGpa, DESC_SIZE * size);
        this.avail = memory.slice(availGpa, 6 + 2L * size);
        this.used = memory.slice(usedGpa, 6 + 8L * size);
        desc.fill((byte) 0);
        avail.fill((byte) 0);
        used.fill((byte) 0);
        this.next = new short[size];
        this.chainLength = new int[size];
        for (int i = 0; i < size; i++) {
            next[i] = (short) (i + 1);
        }
        this.numFree = size;
        EventFd kick = EventFd.create();
        try {
            this.callFd = EventFd.create();
        } catch (VhostException e) {
            kick.close();
            throw e;
        }
        this.kickFd = kick;
    }

    /** Number of entries. */
    public int size() { return size; }

    /** Free descriptors. */
    public int numFree() { return numFree; }

    /** Chains added and not yet used by the device. */
    public int inFlight() { return (availIdx - completedIdx) & 0xffff; }

    /**
     * Whether VIRTIO_F_IN_ORDER was negotiated: the device then uses chains in the order they were made available,
     * and may write one used entry for a batch (the last chain's id). {@link #pollUsed()} then gives back every
     * chain of the batch in order (the earlier ones with length 0) and throws if the device breaks the order.
     * Set it while nothing is in flight.
     *
     * @throws IllegalStateException if a chain is in flight, or the queue is closed
     */
    public void expectInOrder(boolean inOrder) {
        checkOpen();
        if (inFlight() != 0) {
            throw new IllegalStateException("IN_ORDER can only change while no chain is in flight");
        }
        this.inOrder = inOrder;
        // With IN_ORDER the driver must also take descriptors in ring order (virtio 1.1, 2.7.8): from 0, wrapping.
        for (int i = 0; i < size; i++) {
            next[i] = (short) ((i + 1) & (size - 1));
        }
        freeHead = 0;
        freeTail = size - 1;
    }

    /** Chains that the device completed without a used entry of their own (IN_ORDER batches). */
    public long batchedChains() { return batchedChains; }

    /** The eventfd to give {@code VHOST_SET_VRING_KICK}. */
    public EventFd kickFd() { return kickFd; }

    /** The eventfd to give {@code VHOST_SET_VRING_CALL}. */
    public EventFd callFd() { return callFd; }

    /** Guest-physical address of the descriptor table. */
    public long descGuestAddr() { return descGpa; }

    /** Guest-physical address of the available ring. */
    public long availGuestAddr() { return availGpa; }

    /** Guest-physical address of the used ring. */
    public long usedGuestAddr() { return usedGpa; }

    /** Bytes of the used ring (with its avail_event word). */
    public long usedRingBytes() { return 6 + 8L * size; }

    /** Bytes of the available ring (with its used_event word). */
    public long availRingBytes() { return 6 + 2L * size; }

    /** Bytes of the descriptor table. */
    public long descTableBytes() { return DESC_SIZE * size; }

    /** The next available-ring index the driver will publish (for {@code VHOST_SET_VRING_BASE}). */
    public int availIndex() { return availIdx; }

    /** The ring addresses for {@code VHOST_SET_VRING_ADDR}: user addresses, or IOVAs with the IOTLB on. */
    public VringAddr vringAddr(int index) {
        if (dma.kind() == AddressKind.IOVA) {
            return VringAddr.ofIova(index, dma.deviceAddress(descGpa), dma.deviceAddress(availGpa),
                    dma.deviceAddress(usedGpa));
        }
        return VringAddr.ofUser(index, memory.userAddress(descGpa), memory.userAddress(availGpa),
                memory.userAddress(usedGpa));
    }

    private long deviceAddress(Buffer b) {
        return b.deviceAddr() != Buffer.BY_WINDOW ? b.deviceAddr() : dma.deviceAddress(b.guestAddr());
    }

    /** Writes descriptor {@code index} of {@code table} (the ring's table or an indirect one). */
    private void writeDesc(MemorySegment table, long index, long deviceAddr, int length, int flags, int next) {
        long off = index * DESC_SIZE;
        table.set(JAVA_LONG, off, deviceAddr);
        table.set(JAVA_INT, off + 8, length);
        table.set(JAVA_SHORT, off + 12, (short) flags);
        table.set(JAVA_SHORT, off + 14, (short) next);
    }

    /** Flags of buffer {@code i} of {@code chain}; rejects a device-readable buffer after a writable one. */
    private static int chainFlags(Buffer[] chain, int i) {
        if (i > 0 && chain[i - 1].deviceWritable() && !chain[i].deviceWritable()) {
            throw new IllegalArgumentException("device-readable buffer after a writable one in the chain");
        }
        return (chain[i].deviceWritable() ? VRING_DESC_F_WRITE() : 0) | (i + 1 < chain.length ? VRING_DESC_F_NEXT() : 0);
    }

    /**
     * Adds a chain (device-readable buffers first, then device-writable ones) to the available ring without
     * publishing it yet.
     *
     * @return the chain's head descriptor, or -1 if there are not enough free descriptors
     */
    public int add(Buffer... chain) {
        checkOpen();
        checkChain(chain);
        if (chain.length > numFree) {
            return -1;
        }
        for (int i = 1; i < chain.length; i++) {
            chainFlags(chain, i); // validate the whole chain before touching the ring
        }
        int head = freeHead;
        int d = head;
        int total = 0;
        for (int i = 0; i < chain.length; i++) {
            Buffer b = chain[i];
            int nx = Short.toUnsignedInt(next[d]);
            boolean more = i + 1 < chain.length;
            writeDesc(desc, d, deviceAddress(b), b.length(), chainFlags(chain, i), more ? nx : 0);
            total++;
            if (more) {
                d = nx;
            } else {
                freeHead = nx;
            }
        }
        numFree -= total;
        chainLength[head] = total;
        avail.set(JAVA_SHORT, 4 + 2L * (availIdx & (size - 1)), (short) head);
        availIdx = (availIdx + 1) & 0xffff;
        return head;
    }

    /**
     * Adds a chain as one ring descriptor with {@code VRING_DESC_F_INDIRECT} (VIRTIO_RING_F_INDIRECT_DESC must
     * be negotiated): the chain's descriptors are written to a table at guest-physical {@code tableGpa}
     * ({@code 16 * chain.length} bytes, 16-byte aligned, owned by the caller until the chain is used).
     *
     * @return the head descriptor, or -1 if the ring has no free descriptor
     */
    public int addIndirect(long tableGpa, Buffer... chain) {
        checkOpen();
        checkChain(chain);
        if ((tableGpa & 15) != 0) {
            throw new IllegalArgumentException("indirect table 0x" + Long.toHexString(tableGpa)
                    + " is not 16-byte aligned");
        }
        if (numFree == 0) {
            return -1;
        }
        MemorySegment table = memory.slice(tableGpa, DESC_SIZE * chain.length);
        for (int i = 0; i < chain.length; i++) {
            writeDesc(table, i, deviceAddress(chain[i]), chain[i].length(), chainFlags(chain, i),
                    i + 1 < chain.length ? i + 1 : 0);
        }
        int head = freeHead;
        writeDesc(desc, head, dma.deviceAddress(tableGpa), (int) (DESC_SIZE * chain.length), VRING_DESC_F_INDIRECT(), 0);
        freeHead = Short.toUnsignedInt(next[head]);
        numFree--;
        chainLength[head] = 1;
        avail.set(JAVA_SHORT, 4 + 2L * (availIdx & (size - 1)), (short) head);
        availIdx = (availIdx + 1) & 0xffff;
        return head;
    }

    /**
     * Publishes the chains added since the last call (release store of {@code avail->idx}) and signals the
     * kick eventfd if the device asked for it (used->flags, or avail_event with EVENT_IDX).
     *
     * @return whether the device was kicked
     */
    public boolean kick() throws VhostException {
        checkOpen();
        int old = publishedIdx;
        int now = availIdx;
        if (old == now) {
            return false;
        }
        U16.setRelease(avail, 2L, (short) now);
        publishedIdx = now;
        VarHandle.fullFence(); // the device's suppression state must be read after idx is visible
        boolean notify;
        if (eventIdx) {
            int event = Short.toUnsignedInt((short) U16.getAcquire(used, 4L + 8L * size));
            notify = ((now - event - 1) & 0xffff) < ((now - old) & 0xffff);
        } else {
            notify = (Short.toUnsignedInt((short) U16.getAcquire(used, 0L)) & VRING_USED_F_NO_NOTIFY()) == 0;
        }
        if (notify) {
            kickFd.signal();
        }
        return notify;
    }

    /**
     * Publishes the available index and signals the kick eventfd unconditionally, whatever the device's
     * notification suppression says (the way to resume a device that stopped polling after a fault).
     */
    public void forceKick() throws VhostException {
        checkOpen();
        U16.setRelease(avail, 2L, (short) availIdx);
        publishedIdx = availIdx;
        kickFd.signal();
    }

    /**
     * Takes the next used chain, freeing its descriptors, or returns {@code null} if there is none. With
     * IN_ORDER ({@link #expectInOrder}) chains come back in the order they were made available, also where the
     * device wrote one used entry for a batch.
     *
     * @throws IllegalStateException if the device returned a chain that is not in flight, or (with IN_ORDER) a
     *         batch it did not publish whole
     */
    public Used pollUsed() {
        checkOpen();
        if (pendingHead < 0) {
            int usedIdx = Short.toUnsignedInt((short) U16.getAcquire(used, 2L));
            if (usedIdx == lastUsedIdx) {
                return null;
            }
            long e = 4 + 8L * (lastUsedIdx & (size - 1));
            int head = used.get(JAVA_INT, e);
            int len = used.get(JAVA_INT, e + 4);
            if (head < 0 || head >= size || chainLength[head] == 0) {
                throw new IllegalStateException("device returned descriptor " + head + " which is not in flight");
            }
            int entries = 1;
            if (inOrder) {
                // One entry may stand for a batch: the chains made available up to this one, in order. The
                // device wrote it in the batch's first slot and moved used->idx past the whole batch.
                entries = batchLength(head);
                if (((usedIdx - lastUsedIdx) & 0xffff) < entries) {
                    throw new IllegalStateException("IN_ORDER broken: a used entry for " + entries + " chains, but"
                            + " used->idx moved by " + ((usedIdx - lastUsedIdx) & 0xffff));
                }
            }
            lastUsedIdx = (lastUsedIdx + entries) & 0xffff;
            if (eventIdx) {
                U16.setRelease(avail, 4L + 2L * size, (short) lastUsedIdx); // used_event: interrupt after this one
            }
            if (!inOrder) {
                return complete(head, len);
            }
            pendingHead = head;
            pendingLength = len;
        }
        // IN_ORDER: the next chain in posting order is done; the entry's length is its batch's last chain's.
        int next = availableAt(completedIdx);
        if (next != pendingHead) {
            batchedChains++;
            return complete(next, 0);
        }
        pendingHead = -1;
        return complete(next, pendingLength);
    }

    private int availableAt(int idx) {
        return Short.toUnsignedInt(avail.get(JAVA_SHORT, 4 + 2L * (idx & (size - 1))));
    }

    /** IN_ORDER: how many chains, from the next to complete, up to and including {@code head}. */
    private int batchLength(int head) {
        int inFlight = inFlight();
        for (int k = 0; k < inFlight; k++) {
            if (availableAt(completedIdx + k) == head) {
                return k + 1;
            }
        }
        throw new IllegalStateException("IN_ORDER broken: descriptor " + head + " is not among the chains in flight");
    }

    /** Returns chain {@code head} to the free list. */
    private Used complete(int head, int len) {
        int d = head;
        for (int i = 1; i < chainLength[head]; i++) {
            d = Short.toUnsignedInt(desc.get(JAVA_SHORT, d * DESC_SIZE + 14));
        }
        if (inOrder) { // back at the tail: the free descriptors stay in ring order
            if (numFree == 0) {
                freeHead = head;
            } else {
                next[freeTail] = (short) head;
            }
            freeTail = d;
        } else {
            next[d] = (short) freeHead;
            freeHead = head;
        }
        numFree += chainLength[head];
        chainLength[head] = 0;
        completedIdx = (completedIdx + 1) & 0xffff;
        return new Used(head, len);
    }

    /** {@link #pollUsed()}, waiting on the call eventfd up to {@code timeout}; {@code null} on timeout. */
    public Used awaitUsed(Duration timeout) throws VhostException {
        Deadline deadline = Deadline.after(timeout);
        while (true) {
            Used u = pollUsed();
            if (u != null) {
                return u;
            }
            long left = deadline.nanosLeft();
            if (left <= 0) {
                return null;
            }
            VarHandle.fullFence();
            u = pollUsed(); // the device may have used a chain between the check and the wait
            if (u != null) {
                return u;
            }
            callFd.await(Duration.ofNanos(Math.min(left, 50_000_000L)));
        }
    }

    /** Refuses an empty chain or a null buffer in it, before a descriptor is taken. */
    private static void checkChain(Buffer[] chain) {
        if (chain.length == 0) {
            throw new IllegalArgumentException("empty chain");
        }
        for (Buffer b : chain) {
            java.util.Objects.requireNonNull(b, "a null buffer in the chain");
        }
    }

    /** Use after {@link #close()} is an {@link IllegalStateException}, also for calls that would signal nothing. */
    private void checkOpen() {
        if (kickFd.isClosed()) {
            throw new IllegalStateException("the queue is closed");
        }
    }

    /** Closes the kick and call eventfds; the rings stay in guest memory. */
    @Override
    public void close() {
        kickFd.close();
        callFd.close();
    }
}
