package io.vhost4j.vdpa;

import io.vhost4j.DeviceStatus;
import io.vhost4j.EventFd;
import io.vhost4j.PackedVringBase;
import io.vhost4j.VirtioFeature;
import io.vhost4j.VhostException;
import io.vhost4j.internal.access.DeviceHandles;
import io.vhost4j.internal.gen.pollfd;
import io.vhost4j.internal.gen.vduse_config_data;
import io.vhost4j.internal.gen.vduse_dev_request;
import io.vhost4j.internal.gen.vduse_dev_response;
import io.vhost4j.internal.gen.vduse_iova_range;
import io.vhost4j.internal.gen.vduse_vq_config;
import io.vhost4j.internal.gen.vduse_vq_eventfd;
import io.vhost4j.internal.gen.vduse_vq_info;
import io.vhost4j.internal.gen.vduse_vq_state;
import io.vhost4j.internal.gen.vduse_vq_state_packed;
import io.vhost4j.internal.gen.vduse_vq_state_split;
import io.vhost4j.internal.sys.Errors;
import io.vhost4j.internal.sys.Fd;
import io.vhost4j.internal.sys.Sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

import static io.vhost4j.internal.gen.VhostH.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * An open VDUSE device, {@code /dev/vduse/<name>}: the device side of a vDPA device, in this process.
 *
 * <p>The kernel asks the device things (status changes, a queue's state, "your mappings changed") by messages on
 * this file and waits for each answer; {@link #start(VduseHandler)} serves them on a thread of its own, which
 * withdraws what changed from {@link #iotlb()} before it tells the handler. Everything else here is an ioctl the device's own code
 * calls: queue setup and info, kick eventfds, interrupts. Only one process may have the file open (EBUSY).
 *
 * <p>{@link #close()} stops the message thread and unmaps the IOTLB. Close the vhost-vdpa side and remove the vdpa
 * device first: while they exist the kernel may still send messages, and a message nobody answers stalls its
 * sender for the device's timeout (30 s) and then marks the device broken.
 *
 * <p>A VMM in this same process (a test, {@code vhostctl selftest}) should ack {@code IOTLB_BATCH} on the vhost-vdpa
 * side: an unbatched UPDATE makes the kernel ask this device while it holds the process's address-space lock, so
 * anything in the process that waits for that lock meanwhile (an {@code mmap}: the garbage collector growing the
 * heap, a thread stack, a JIT code cache page) and that the message thread then waits for (a safepoint, a
 * {@code malloc} lock) stalls the UPDATE until the device's timeout: it then fails with EFAULT and the device is
 * broken. A batch is mapped at its BATCH_END, outside that lock.
 */
public final class VduseDevice implements AutoCloseable {
    private final VduseConfig config;
    private final String path;
    private final Fd fd;
    private final VduseIotlb iotlb;
    private final EventFd wake;
    private volatile Thread loop;
    private volatile boolean stopping;
    private volatile Throwable loopFailure;
    private volatile long requests;

    private VduseDevice(VduseConfig config, String path, Fd fd, EventFd wake) {
        this.config = config;
        this.path = path;
        this.fd = fd;
        this.wake = wake;
        this.iotlb = new VduseIotlb(fd);
    }

    static VduseDevice open(VduseConfig config) throws VhostException {
        String path = "/dev/vduse/" + config.name();
        Fd fd = Fd.open(path, O_RDWR() | O_NONBLOCK() | O_CLOEXEC());
        try {
            return new VduseDevice(config, path, fd, EventFd.create());
        } catch (VhostException | RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /** The configuration it was created with. */
    public VduseConfig config() { return config; }

    /** The device's name (also the vdpa device's). */
    public String name() { return config.name(); }

    /** {@code /dev/vduse/<name>}. */
    public String path() { return path; }

    /** The driver's memory as the device sees it. */
    public VduseIotlb iotlb() { return iotlb; }

    /** How many kernel messages the message thread answered. */
    public long requestsServed() { return requests; }

    /** Whether the message thread runs. */
    public boolean isServing() {
        Thread t = loop;
        return t != null && t.isAlive();
    }

    /** Why the message thread ended on its own (the device broke, or the handler threw), or {@code null}. */
    public Throwable loopFailure() { return loopFailure; }

    private void ioctl(String op, long request, MemorySegment arg) throws VhostException {
        int rc = fd.ioctl(Sys.local(), request, arg);
        if (rc < 0) {
            throw Errors.failure(-rc, op, path);
        }
    }

    private void checkQueue(int index) {
        if (index < 0 || index >= config.queues()) {
            throw new IllegalArgumentException("queue " + index + " out of range 0.." + (config.queues() - 1)
                    + " of " + path);
        }
    }

    // ---- device ioctls ---------------------------------------------------------------------------------

    /** {@code VDUSE_VQ_SETUP}: the largest size of queue {@code index}; before the device joins the vDPA bus. */
    public void setupQueue(int index, int maxSize) throws VhostException {
        checkQueue(index);
        if (maxSize < 1 || maxSize > 32768 || Integer.bitCount(maxSize) != 1) {
            throw new IllegalArgumentException("queue size " + maxSize + " is not a power of two in 1..32768");
        }
        MemorySegment s = Sys.scratch();
        s.asSlice(0, vduse_vq_config.sizeof()).fill((byte) 0);
        vduse_vq_config.index(s, index);
        vduse_vq_config.max_size(s, (short) maxSize);
        ioctl("VDUSE_VQ_SETUP", VDUSE_VQ_SETUP(), s);
    }

    /** {@code VDUSE_VQ_GET_INFO}: queue {@code index} as the driver set it up. */
    public VduseQueueInfo queueInfo(int index) throws VhostException {
        checkQueue(index);
        boolean packedRing = packedNegotiated(); // before the scratch buffer is filled: it uses it too
        MemorySegment s = Sys.scratch();
        s.asSlice(0, vduse_vq_info.sizeof()).fill((byte) 0);
        vduse_vq_info.index(s, index);
        ioctl("VDUSE_VQ_GET_INFO", VDUSE_VQ_GET_INFO(), s);
        PackedVringBase packed = null;
        int availIndex;
        if (packedRing) { // the kernel fills the union's packed half then
            MemorySegment p = vduse_vq_info.packed(s);
            packed = new PackedVringBase(vduse_vq_state_packed.last_avail_idx(p) & PackedVringBase.MAX_INDEX,
                    (vduse_vq_state_packed.last_avail_counter(p) & 1) != 0,
                    vduse_vq_state_packed.last_used_idx(p) & PackedVringBase.MAX_INDEX,
                    (vduse_vq_state_packed.last_used_counter(p) & 1) != 0);
            availIndex = packed.availIndex();
        } else {
            availIndex = vduse_vq_state_split.avail_index(vduse_vq_info.split(s)) & 0xffff;
        }
        return new VduseQueueInfo(index, vduse_vq_info.num(s), vduse_vq_info.desc_addr(s),
                vduse_vq_info.driver_addr(s), vduse_vq_info.device_addr(s), availIndex, packed,
                vduse_vq_info.ready(s) != 0);
    }

    private boolean packedNegotiated() throws VhostException {
        return (getDriverFeatures() & VirtioFeature.RING_PACKED.mask()) != 0;
    }

    /**
     * {@code VDUSE_VQ_SETUP_KICKFD}: the eventfd the kernel signals when the driver kicks queue {@code index}
     * ({@code null} deassigns). A kick that came before is delivered at once.
     */
    public void setKickFd(int index, EventFd eventFd) throws VhostException {
        checkQueue(index);
        MemorySegment s = Sys.scratch();
        vduse_vq_eventfd.index(s, index);
        Fd file = eventFd == null ? null : DeviceHandles.eventFd(eventFd);
        vduse_vq_eventfd.fd(s, file == null ? VDUSE_EVENTFD_DEASSIGN() : file.acquire());
        try {
            ioctl("VDUSE_VQ_SETUP_KICKFD", VDUSE_VQ_SETUP_KICKFD(), s);
        } finally {
            if (file != null) {
                file.release();
            }
        }
    }

    /** {@code VDUSE_VQ_INJECT_IRQ}: interrupts the driver for queue {@code index} (EINVAL before DRIVER_OK). */
    public void injectIrq(int index) throws VhostException {
        checkQueue(index);
        MemorySegment s = Sys.scratch();
        s.set(JAVA_INT, 0, index);
        ioctl("VDUSE_VQ_INJECT_IRQ", VDUSE_VQ_INJECT_IRQ(), s);
    }

    /** {@code VDUSE_DEV_GET_FEATURES}: the features the driver acked. */
    public long getDriverFeatures() throws VhostException {
        MemorySegment s = Sys.scratch();
        s.set(JAVA_LONG, 0, 0);
        ioctl("VDUSE_DEV_GET_FEATURES", VDUSE_DEV_GET_FEATURES(), s);
        return s.get(JAVA_LONG, 0);
    }

    /** {@code VDUSE_DEV_SET_CONFIG}: rewrites part of the configuration space. */
    public void setConfig(int offset, byte[] data) throws VhostException {
        Objects.requireNonNull(data, "data");
        int size = config.config().length;
        if (offset < 0 || data.length == 0 || offset > size || data.length > size - offset) {
            throw new IllegalArgumentException("config range " + offset + "+" + data.length + " outside the " + size
                    + "-byte configuration space of " + path);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment c = arena.allocate(vduse_config_data.sizeof() + data.length, 4);
            vduse_config_data.offset(c, offset);
            vduse_config_data.length(c, data.length);
            MemorySegment.copy(MemorySegment.ofArray(data), 0, c, vduse_config_data.buffer$offset(), data.length);
            ioctl("VDUSE_DEV_SET_CONFIG", VDUSE_DEV_SET_CONFIG(), c);
        }
    }

    /** {@code VDUSE_DEV_INJECT_CONFIG_IRQ}: tells the driver the configuration space changed. */
    public void injectConfigIrq() throws VhostException {
        ioctl("VDUSE_DEV_INJECT_CONFIG_IRQ", VDUSE_DEV_INJECT_CONFIG_IRQ(), MemorySegment.NULL);
    }

    // ---- the message thread ----------------------------------------------------------------------------

    /**
     * Starts the message thread: it answers every kernel request through {@code handler}, withdrawing what changed
     * from {@link #iotlb()} before {@link VduseHandler#iotlbChanged}. A handler that throws fails that request and ends
     * the thread ({@link #loopFailure()}), as does a broken device.
     *
     * @throws IllegalStateException if it runs already
     */
    public synchronized void start(VduseHandler handler) {
        Objects.requireNonNull(handler, "handler");
        if (loop != null) {
            throw new IllegalStateException("the message thread of " + path + " runs already");
        }
        if (fd.isClosed()) {
            throw new IllegalStateException(path + " is closed");
        }
        Thread t = new Thread(() -> serve(handler), "vduse-" + config.name());
        t.setDaemon(true);
        loop = t;
        t.start();
    }

    private void serve(VduseHandler handler) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment req = arena.allocate(vduse_dev_request.sizeof(), 8);
            MemorySegment resp = arena.allocate(vduse_dev_response.sizeof(), 8);
            MemorySegment fds = arena.allocate(pollfd.layout(), 2);
            while (!stopping) {
                int dev = fd.acquire();
                try {
                    pollfd.fd(fds, dev);
                    pollfd.events(fds, (short) POLLIN());
                    MemorySegment w = fds.asSlice(pollfd.sizeof(), pollfd.sizeof());
                    pollfd.fd(w, wake.fd());
                    pollfd.events(w, (short) POLLIN());
                    int n = Sys.poll(fds, 2, -1);
                    if (n < 0 || stopping) {
                        continue;
                    }
                    if ((pollfd.revents(fds) & POLLERR()) != 0) {
                        throw new IllegalStateException("the kernel marked " + path + " broken (a request timed out)");
                    }
                    if ((pollfd.revents(fds) & POLLIN()) == 0) {
                        continue;
                    }
                    long r = Sys.read(dev, req, vduse_dev_request.sizeof());
                    if (r == -EAGAIN() || r == -EINTR()) {
                        continue;
                    }
                    Errors.check(r, "read(VDUSE request)", path);
                    answer(handler, req, resp);
                    long wr = Sys.write(dev, resp, vduse_dev_response.sizeof());
                    Errors.check(wr, "write(VDUSE response)", path);
                    requests++;
                } finally {
                    fd.release();
                }
            }
        } catch (Throwable t) {
            if (!stopping) {
                loopFailure = t;
            }
        }
    }

    private void answer(VduseHandler handler, MemorySegment req, MemorySegment resp) throws VhostException {
        resp.fill((byte) 0);
        vduse_dev_response.request_id(resp, vduse_dev_request.request_id(req));
        int type = vduse_dev_request.type(req);
        boolean ok = true;
        if (type == VDUSE_GET_VQ_STATE()) {
            MemorySegment q = vduse_dev_request.vq_state(req);
            int index = vduse_vq_state.index(q);
            MemorySegment out = vduse_dev_response.vq_state(resp);
            vduse_vq_state.index(out, index);
            if (packedNegotiated()) {
                PackedVringBase b = handler.packedQueueBase(index);
                if (b == null) {
                    ok = false;
                } else {
                    MemorySegment p = vduse_vq_state.packed(out);
                    vduse_vq_state_packed.last_avail_idx(p, (short) b.availIndex());
                    vduse_vq_state_packed.last_avail_counter(p, (short) (b.availWrap() ? 1 : 0));
                    vduse_vq_state_packed.last_used_idx(p, (short) b.usedIndex());
                    vduse_vq_state_packed.last_used_counter(p, (short) (b.usedWrap() ? 1 : 0));
                }
            } else {
                vduse_vq_state_split.avail_index(vduse_vq_state.split(out), (short) handler.queueAvailIndex(index));
            }
        } else if (type == VDUSE_SET_STATUS()) {
            int status = vduse_dev_request.s(req).get(JAVA_BYTE, 0) & 0xff;
            ok = handler.setStatus(new DeviceStatus(status));
        } else if (type == VDUSE_UPDATE_IOTLB()) {
            MemorySegment range = vduse_dev_request.iova(req);
            long start = vduse_iova_range.start(range), last = vduse_iova_range.last(range);
            iotlb.refresh(start, last);
            handler.iotlbChanged(start, last);
        } else {
            ok = false; // a request type this library does not know: fail it rather than guess
        }
        vduse_dev_response.result(resp, ok ? VDUSE_REQ_RESULT_OK() : VDUSE_REQ_RESULT_FAILED());
    }

    /**
     * Stops the message thread, unmaps the IOTLB and closes the file (the device itself stays until
     * {@link VduseControl#destroy}). Closing twice is harmless.
     */
    @Override
    public void close() {
        Thread t;
        synchronized (this) {
            stopping = true;
            t = loop;
        }
        if (t != null) {
            try {
                wake.signal();
            } catch (VhostException | IllegalStateException ignored) {
                // the wake eventfd is ours and open until below
            }
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        iotlb.close();
        wake.close();
        fd.close();
    }
}
