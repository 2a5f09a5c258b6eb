package io.vhost4j.testkit;

import io.vhost4j.DeviceStatus;
import io.vhost4j.DeviceStatusBit;
import io.vhost4j.EventFd;
import io.vhost4j.VhostException;
import io.vhost4j.internal.gen.pollfd;
import io.vhost4j.internal.sys.Sys;
import io.vhost4j.vdpa.IovaFaultException;
import io.vhost4j.vdpa.VduseConfig;
import io.vhost4j.vdpa.VduseControl;
import io.vhost4j.vdpa.VduseDevice;
import io.vhost4j.vdpa.VduseHandler;
import io.vhost4j.vdpa.VduseIotlb;
import io.vhost4j.vdpa.VduseQueueInfo;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static io.vhost4j.internal.gen.VhostH.POLLIN;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * A virtio-net device in this process, on VDUSE, that sends every frame the driver transmits back to it (like
 * the kernel's {@code vdpa_sim_net}): queue 1 (TX) to queue 0 (RX), header and bytes as they came, with
 * {@code num_buffers} 1. It reads and writes the driver's memory only through its IOTLB ({@link VduseIotlb}): an
 * address without a mapping is a recorded {@link #faults() fault}, and the queue stops there until the next kick.
 *
 * <p>Two threads: {@link VduseDevice}'s message thread answers the kernel (status, queue state, IOTLB changes),
 * and a data-path thread serves the kicks. Offers VERSION_1 and ACCESS_PLATFORM, one RX/TX pair, no control queue.
 */
public final class VduseNetDevice implements VduseHandler, AutoCloseable {
    /** The MAC address in the device's configuration space. */
    public static final byte[] MAC = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    private static final int RX = 0, TX = 1;
    private static final int HEADER = 12;
    private static final long NUM_BUFFERS_OFFSET = 10;
    private static final int F_NEXT = 1, F_WRITE = 2;

    private final VduseDevice device;
    private final EventFd[] kicks = new EventFd[2];
    private final EventFd wake;
    private final Object lock = new Object();
    private final VduseQueueInfo[] queues = new VduseQueueInfo[2];
    private final int[] lastAvail = new int[2];
    private final int[] usedIdx = new int[2];
    private final List<DeviceStatus> statuses = new CopyOnWriteArrayList<>();
    private final List<IovaFaultException> faults = new CopyOnWriteArrayList<>();
    private final Thread dataPath;
    private volatile boolean running, closing;
    private volatile long framesLooped;
    private volatile long iotlbChanges;
    private volatile Throwable failure;

    private VduseNetDevice(VduseDevice device) throws VhostException {
        this.device = device;
        List<EventFd> made = new ArrayList<>();
        try {
            for (int q = 0; q < 2; q++) {
                kicks[q] = EventFd.create();
                made.add(kicks[q]);
            }
            wake = EventFd.create();
        } catch (VhostException | RuntimeException e) {
            made.forEach(EventFd::close);
            throw e;
        }
        dataPath = new Thread(this::serveKicks, "vduse-net-" + device.name());
        dataPath.setDaemon(true);
    }

    /**
     * Creates VDUSE device {@code name} (a net device with queues of {@code queueSize}) and starts both threads; the
     * device can then be added to the vDPA bus.
     */
    public static VduseNetDevice create(VduseControl control, String name, int queueSize) throws VhostException {
        VduseDevice d = control.create(VduseConfig.net(name, MAC, queueSize));
        VduseNetDevice net;
        try {
            net = new VduseNetDevice(d);
        } catch (VhostException | RuntimeException e) {
            d.close();
            throw e;
        }
        d.start(net);
        net.dataPath.start();
        return net;
    }

    /** The VDUSE device underneath. */
    public VduseDevice vduse() { return device; }

    /** Every status the driver wrote, in order. */
    public List<DeviceStatus> statuses() { return List.copyOf(statuses); }

    /** Every access that found no mapping, in order. */
    public List<IovaFaultException> faults() { return List.copyOf(faults); }

    /** Why the data-path thread died, or {@code null} while it serves. */
    public Throwable failure() { return failure; }

    /** Frames looped from TX to RX. */
    public long framesLooped() { return framesLooped; }

    /** How many times the kernel told the device its mappings changed (one per {@code set_map}). */
    public long iotlbChanges() { return iotlbChanges; }

    // ---- the kernel's requests (message thread) ----------------------------------------------------

    @Override
    public boolean setStatus(DeviceStatus status) {
        statuses.add(status);
        synchronized (lock) {
            if (status.bits() == 0) {
                running = false;
                for (int q = 0; q < 2; q++) {
                    queues[q] = null;
                    lastAvail[q] = 0;
                    usedIdx[q] = 0;
                }
                return true;
            }
            if (status.has(DeviceStatusBit.DRIVER_OK) && !running) {
                try {
                    for (int q = 0; q < 2; q++) {
                        queues[q] = device.queueInfo(q);
                        lastAvail[q] = queues[q].availIndex();
                        usedIdx[q] = queues[q].availIndex();
                        device.setKickFd(q, kicks[q]);
                    }
                } catch (VhostException e) {
                    return false;
                }
                running = true;
            }
        }
        poke();
        return true;
    }

    @Override
    public int queueAvailIndex(int index) {
        synchronized (lock) {
            return index >= 0 && index < 2 ? lastAvail[index] : 0;
        }
    }

    @Override
    public void iotlbChanged(long start, long last) {
        iotlbChanges++;
    }

    private void poke() {
        try {
            wake.signal();
        } catch (VhostException | IllegalStateException ignored) {
            // closing
        }
    }

    // ---- the data path -------------------------------------------------------------------------------

    private void serveKicks() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fds = arena.allocate(pollfd.layout(), 3);
            EventFd[] all = {kicks[RX], kicks[TX], wake};
            while (!closing) {
                for (int i = 0; i < 3; i++) {
                    MemorySegment p = fds.asSlice(i * pollfd.sizeof(), pollfd.sizeof());
                    pollfd.fd(p, all[i].fd());
                    pollfd.events(p, (short) POLLIN());
                    pollfd.revents(p, (short) 0);
                }
                Sys.poll(fds, 3, 200);
                for (EventFd e : all) {
                    e.drain();
                }
                if (!closing) {
                    loopFrames();
                }
            }
        } catch (VhostException | RuntimeException e) {
            if (!closing) {
                failure = e;
            }
        }
    }

    /** Moves every frame the driver made available on TX into an RX buffer, while both have some. */
    private void loopFrames() throws VhostException {
        synchronized (lock) {
            if (!running) {
                return;
            }
            VduseIotlb mem = device.iotlb();
            VduseQueueInfo rx = queues[RX], tx = queues[TX];
            boolean usedRx = false, usedTx = false;
            try {
                while (true) {
                    int txAvail = u16(mem, tx.driverAddr() + 2);
                    if (txAvail == (lastAvail[TX] & 0xffff)) {
                        break;
                    }
                    int rxAvail = u16(mem, rx.driverAddr() + 2);
                    if (rxAvail == (lastAvail[RX] & 0xffff)) {
                        break; // no RX buffer: the next RX kick resumes
                    }
                    VarHandle.acquireFence();
                    int txHead = u16(mem, tx.driverAddr() + 4 + 2L * (lastAvail[TX] % tx.size()));
                    int rxHead = u16(mem, rx.driverAddr() + 4 + 2L * (lastAvail[RX] % rx.size()));
                    byte[] frame = gather(mem, tx, txHead);
                    int written = scatter(mem, rx, rxHead, frame);
                    putUsed(mem, rx, RX, rxHead, written);
                    putUsed(mem, tx, TX, txHead, 0);
                    lastAvail[TX] = (lastAvail[TX] + 1) & 0xffff;
                    lastAvail[RX] = (lastAvail[RX] + 1) & 0xffff;
                    usedRx = usedTx = true;
                    framesLooped++;
                }
            } catch (IovaFaultException e) {
                faults.add(e); // this queue stops here until the next kick
            }
            if (usedRx) {
                device.injectIrq(RX);
            }
            if (usedTx) {
                device.injectIrq(TX);
            }
        }
    }

    private static int u16(VduseIotlb mem, long iova) throws IovaFaultException {
        MemorySegment b = MemorySegment.ofArray(new byte[2]);
        mem.read(iova, b);
        return b.get(JAVA_SHORT_UNALIGNED, 0) & 0xffff;
    }

    /** The bytes of the device-readable chain at {@code head}. */
    private static byte[] gather(VduseIotlb mem, VduseQueueInfo q, int head) throws IovaFaultException {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        MemorySegment d = MemorySegment.ofArray(new byte[16]);
        int i = head;
        for (int hops = 0; hops < q.size(); hops++) {
            mem.read(q.descAddr() + 16L * i, d);
            long addr = d.get(JAVA_LONG_UNALIGNED, 0);
            int len = d.get(JAVA_INT_UNALIGNED, 8);
            int flags = d.get(JAVA_SHORT_UNALIGNED, 12) & 0xffff;
            if ((flags & F_WRITE) == 0) {
                byte[] bytes = new byte[len];
                mem.read(addr, MemorySegment.ofArray(bytes));
                out.writeBytes(bytes);
            }
            if ((flags & F_NEXT) == 0) {
                break;
            }
            i = d.get(JAVA_SHORT_UNALIGNED, 14) & 0xffff;
        }
        return out.toByteArray();
    }

    /** Writes {@code frame} (header first, num_buffers set to 1) into the device-writable chain at {@code head}. */
    private static int scatter(VduseIotlb mem, VduseQueueInfo q, int head, byte[] frame) throws IovaFaultException {
        if (frame.length >= HEADER) {
            frame[(int) NUM_BUFFERS_OFFSET] = 1;
            frame[(int) NUM_BUFFERS_OFFSET + 1] = 0;
        }
        MemorySegment d = MemorySegment.ofArray(new byte[16]);
        int i = head, done = 0;
        for (int hops = 0; hops < q.size() && done < frame.length; hops++) {
            mem.read(q.descAddr() + 16L * i, d);
            long addr = d.get(JAVA_LONG_UNALIGNED, 0);
            int len = d.get(JAVA_INT_UNALIGNED, 8);
            int flags = d.get(JAVA_SHORT_UNALIGNED, 12) & 0xffff;
            if ((flags & F_WRITE) != 0) {
                int n = Math.min(len, frame.length - done);
                mem.write(addr, MemorySegment.ofArray(frame).asSlice(done, n));
                done += n;
            }
            if ((flags & F_NEXT) == 0) {
                break;
            }
            i = d.get(JAVA_SHORT_UNALIGNED, 14) & 0xffff;
        }
        return done;
    }

    private void putUsed(VduseIotlb mem, VduseQueueInfo q, int index, int head, int length)
            throws IovaFaultException {
        MemorySegment e = MemorySegment.ofArray(new byte[8]);
        e.set(JAVA_INT_UNALIGNED, 0, head);
        e.set(JAVA_INT_UNALIGNED, 4, length);
        mem.write(q.deviceAddr() + 4 + 8L * (usedIdx[index] % q.size()), e);
        VarHandle.releaseFence();
        usedIdx[index] = (usedIdx[index] + 1) & 0xffff;
        MemorySegment idx = MemorySegment.ofArray(new byte[2]);
        idx.set(JAVA_SHORT_UNALIGNED, 0, (short) usedIdx[index]);
        mem.write(q.deviceAddr() + 2, idx);
    }

    /** Stops both threads and closes the VDUSE file (the device stays until destroyed). */
    @Override
    public void close() {
        closing = true;
        poke();
        try {
            dataPath.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        device.close();
        for (EventFd k : kicks) {
            k.close();
        }
        wake.close();
    }
}
