package io.vhost4j.iotlb;

import io.vhost4j.EventFd;
import io.vhost4j.MemoryTable;
import io.vhost4j.VhostDevice;
import io.vhost4j.VhostException;
import io.vhost4j.VirtioFeature;
import io.vhost4j.internal.gen.epoll_event;
import io.vhost4j.internal.access.DeviceHandles;
import io.vhost4j.internal.sys.Errors;
import io.vhost4j.internal.sys.Fd;
import io.vhost4j.internal.sys.IotlbChannel;
import io.vhost4j.internal.sys.IotlbWire;
import io.vhost4j.internal.sys.Sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;

import static io.vhost4j.internal.gen.VhostH.*;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Serves device-IOTLB misses for many vhost devices at once, on behalf of a VMM's vIOMMU model.
 *
 * <p>The manager keeps the epoll loop, the registrations and the dispatch; each {@link ManagedDevice} serves its
 * own misses: it reads MISS messages until none is left, asks its {@link Translator}, and writes an UPDATE with
 * the translator's permission (never the MISS's), clipped to the guest memory registered with the device. A miss
 * it cannot answer is an {@link IotlbFault}: counted, given to the fault listener, never fatal to the loop or to
 * other devices. Duplicate misses (the kernel does not de-duplicate) are simply answered again.
 *
 * <p>Run it on its own thread ({@link #start()}, or {@link #start(Duration)} to poll for a while after each miss
 * instead of sleeping at once) or from the VMM's own event loop: poll {@link #fd()} and
 * call {@link #processReady(int)}. Devices may be registered and unregistered, or closed, while it runs;
 * {@link #close()} wakes the loop at once and stops it. Serving a miss allocates nothing.
 */
public final class IotlbManager implements AutoCloseable {
    private static final int MAX_EVENTS = 64;
    private static final long WAKEUP_TOKEN = 0;
    private static final java.lang.foreign.ValueLayout.OfLong TOKEN = JAVA_LONG.withByteAlignment(1); // packed
    /** Capacity of each device's mapping view: the kernel's default {@code max_iotlb_entries}. */
    public static final int VIEW_CAPACITY = ManagedDevice.VIEW_CAPACITY;
    /** The longest a {@linkplain #start(Duration) polling loop} keeps polling after a miss: one second. */
    public static final Duration MAX_POLL = Duration.ofSeconds(1);

    private final IotlbFaultListener listener;
    private final Fd epoll;
    private final EventFd wakeup;
    // An automatic arena: its segments cost no atomic operation when passed to a system call (a shared arena's
    // do), and the loop checks {@code closing} before it touches them; the GC frees them with the manager.
    private final Arena arena = Arena.ofAuto();
    private final MemorySegment events;
    private final MemorySegment readBuf;
    private final MemorySegment writeBuf;
    private final DeviceSlots devices = new DeviceSlots();
    private final Object loopLock = new Object();
    private volatile boolean closing;
    private volatile Throwable loopFailure;
    private Thread thread;

    private IotlbManager(IotlbFaultListener listener) throws VhostException {
        this.listener = listener;
        Fd ep = Fd.adopt(Errors.check(Sys.epollCreate1(EPOLL_CLOEXEC()), "epoll_create1", "IOTLB manager"),
                "IOTLB manager epoll");
        EventFd w;
        try {
            w = EventFd.create();
            addToEpoll(ep.number(), w.fd(), WAKEUP_TOKEN, "eventfd");
        } catch (VhostException | RuntimeException e) {
            ep.close();
            throw e;
        }
        this.epoll = ep;
        this.wakeup = w;
        this.events = arena.allocate(epoll_event.layout(), MAX_EVENTS);
        this.readBuf = arena.allocate(IotlbWire.SIZE, 8);
        this.writeBuf = arena.allocate(IotlbWire.SIZE, 8);
    }

    /** A manager reporting the misses it cannot answer to {@code listener} (may be {@code null}). */
    public static IotlbManager create(IotlbFaultListener listener) throws VhostException {
        return new IotlbManager(listener == null ? (d, f) -> { } : listener);
    }

    private static void addToEpoll(int epfd, int fd, long token, String what) throws VhostException {
        Errors.check(Sys.epollCtl(epfd, EPOLL_CTL_ADD(), fd, readable(token)), "epoll_ctl(ADD)", what);
    }

    /** An epoll event asking for readability, carrying {@code token} (in this thread's scratch buffer). */
    private static MemorySegment readable(long token) {
        MemorySegment ev = Sys.scratch().asSlice(0, epoll_event.sizeof());
        epoll_event.events(ev, EPOLLIN());
        epoll_event.data(ev).set(TOKEN, 0, token);
        return ev;
    }

    /**
     * {@code epoll_ctl(op)} on {@code md}'s descriptor, held for the call: a concurrent close cannot hand its number
     * to another file meanwhile.
     *
     * @throws IllegalStateException if the device was closed
     */
    private int epollCtlHeld(int op, ManagedDevice md, MemorySegment event) {
        Fd f = md.channel.fd();
        int n = f.acquire();
        try {
            return Sys.epollCtl(epoll.number(), op, n, event);
        } finally {
            f.release();
        }
    }

    // ---- devices -----------------------------------------------------------------------------------

    /**
     * Starts serving {@code device}'s misses through {@code translator}. Translations may only point into
     * {@code guestMemory} (its guest's memory: guest-physical to user addresses); anything else is refused
     * as a fault. The device's IOTLB must be on (ACCESS_PLATFORM acked). Misses are answered
     * {@linkplain MappingPolicy#exact() exactly}. A {@link io.vhost4j.VhostVdpa} is refused
     * ({@link IllegalArgumentException}): vDPA devices never miss. A device is served by one manager at a time: it
     * is refused ({@link IllegalStateException}) while registered here or with another manager, and may register
     * again once {@linkplain ManagedDevice#unregister() unregistered}; meanwhile
     * {@link VhostDevice#readIotlb()} refuses to read its misses.
     */
    public ManagedDevice register(VhostDevice device, MemoryTable guestMemory, Translator translator)
            throws VhostException {
        return register(device, guestMemory, translator, MappingPolicy.exact());
    }

    /** As {@link #register(VhostDevice, MemoryTable, Translator)}, answering misses as {@code policy} says. */
    public ManagedDevice register(VhostDevice device, MemoryTable guestMemory, Translator translator,
                                  MappingPolicy policy) throws VhostException {
        checkOpen();
        java.util.Objects.requireNonNull(device, "device");
        java.util.Objects.requireNonNull(guestMemory, "guestMemory");
        java.util.Objects.requireNonNull(translator, "translator");
        java.util.Objects.requireNonNull(policy, "policy");
        if (device instanceof io.vhost4j.VhostVdpa) {
            throw new IllegalArgumentException(device.path() + " is a vDPA device: it never misses (the VMM maps"
                    + " everything up front with VhostVdpa.updateIotlb), so it has nothing for an IOTLB manager");
        }
        if (device.ackedFeatures() == null || !device.ackedFeatures().has(VirtioFeature.ACCESS_PLATFORM)) {
            throw new IllegalStateException(device.path() + " has no device IOTLB: ack ACCESS_PLATFORM first");
        }
        IotlbChannel channel = DeviceHandles.iotlb(device);
        ManagedDevice md = devices.add(token -> new ManagedDevice(this::forget, device, channel,
                guestMemory.regions(), translator, policy, listener::onFault, token));
        if (!channel.claim(md)) {
            devices.remove(md);
            throw new IllegalStateException(device.path() + " is already registered with an IOTLB manager: a second"
                    + " reader of its misses would take some of those the first one waits for");
        }
        try {
            Errors.check(epollCtlHeld(EPOLL_CTL_ADD(), md, readable(md.token)), "epoll_ctl(ADD)", device.path());
        } catch (VhostException | RuntimeException e) {
            devices.remove(md);
            channel.release(md);
            throw e;
        }
        return md;
    }

    /** Takes {@code md} out of the slots and the epoll set; {@link ManagedDevice#unregister()} calls it once. */
    private void forget(ManagedDevice md) {
        devices.remove(md);
        if (!epoll.isClosed()) {
            try {
                epollCtlHeld(EPOLL_CTL_DEL(), md, MemorySegment.NULL);
            } catch (IllegalStateException closedMeanwhile) {
                // the device was closed: the kernel drops the registration with the file
            }
        }
    }

    /** The devices being served. */
    public List<ManagedDevice> devices() {
        return List.copyOf(devices.all());
    }

    /**
     * INVALIDATE on every device (the guest invalidated its IOTLB for {@code [iova, iova+size)}).
     *
     * @throws IllegalArgumentException for an empty range or one that overflows 64 bits, with or without devices
     * @throws IllegalStateException    if the manager is closed
     */
    public void invalidateAll(long iova, long size) throws VhostException {
        io.vhost4j.IotlbMessage.checkRange(iova, size); // the same answer with no device as with many
        checkOpen();
        for (ManagedDevice d : devices.all()) {
            d.invalidate(iova, size);
        }
    }

    // ---- the loop ----------------------------------------------------------------------------------

    /** The epoll descriptor, readable when {@link #processReady(int)} has work: for embedding in a VMM loop. */
    public int fd() {
        return epoll.number();
    }

    /**
     * Runs the loop on a new daemon thread named {@code vhost4j-iotlb}, which sleeps in {@code epoll_wait} whenever
     * no device has a miss queued: {@link #start(Duration) start(Duration.ZERO)}.
     */
    public void start() {
        start(Duration.ZERO);
    }

    /**
     * Runs the loop on a new daemon thread named {@code vhost4j-iotlb} that, after each wake-up that served a miss,
     * keeps polling the devices ({@code epoll_wait} with a timeout of 0) for {@code pollFor} before it sleeps again:
     * a device that misses again within that time is served without waking a sleeping thread (QEMU's IOThreads poll
     * for the same reason, {@code poll-max-ns}). Lower latency per miss, bought with CPU time: the thread spins for
     * up to {@code pollFor} after the last miss it served, and not at all while no device misses. Worth it where a
     * guest's queues miss in bursts (an IOTLB without {@linkplain MappingPolicy#withPrefetch prefetch}, a guest in
     * strict DMA mode); see the README's benchmark figures. A VMM driving {@link #processReady(int)} from its own
     * loop decides the same with its timeouts.
     *
     * @param pollFor how long to poll after the last miss, {@link Duration#ZERO} (sleep at once) to {@link #MAX_POLL}
     * @throws IllegalArgumentException if {@code pollFor} is negative or above {@link #MAX_POLL}
     * @throws IllegalStateException    if the loop was started already, or the manager is closed
     */
    public synchronized void start(Duration pollFor) {
        java.util.Objects.requireNonNull(pollFor, "pollFor");
        if (pollFor.isNegative() || pollFor.compareTo(MAX_POLL) > 0) {
            throw new IllegalArgumentException("pollFor " + pollFor + " not in 0.." + MAX_POLL);
        }
        checkOpen();
        if (thread != null) {
            throw new IllegalStateException("already started");
        }
        long pollNanos = pollFor.toNanos();
        thread = Thread.ofPlatform().name("vhost4j-iotlb").daemon(true).start(() -> {
            try {
                long lastMiss = System.nanoTime() - pollNanos; // not polling until the first miss
                while (!closing) {
                    try {
                        boolean polling = pollNanos > 0 && System.nanoTime() - lastMiss < pollNanos;
                        int misses = processReady(polling ? 0 : 1000);
                        if (misses > 0 && pollNanos > 0) {
                            lastMiss = System.nanoTime();
                        } else if (polling) {
                            Thread.onSpinWait();
                        }
                    } catch (RuntimeException e) {
                        if (!closing) {
                            throw e;
                        }
                    }
                }
            } catch (Throwable e) {
                loopFailure = e;
                try {
                    listener.onLoopFailure(e);
                } catch (RuntimeException ignored) {
                    // the thread ends either way
                }
            }
        });
    }

    /**
     * Whether the loop thread of {@link #start()} runs: false before {@code start}, after {@link #close()}, and
     * when it died ({@link IotlbFaultListener#onLoopFailure} was told why; {@link #loopFailure()} keeps it).
     */
    public synchronized boolean isLoopAlive() {
        return thread != null && thread.isAlive() && !closing;
    }

    /** What killed the loop thread, or {@code null}. */
    public Throwable loopFailure() {
        return loopFailure;
    }

    /**
     * Waits up to {@code timeoutMillis} (0: not at all, -1: forever) for ready devices and serves every miss
     * they have queued. Like {@link java.nio.channels.Selector#select(long)}, it may return 0 before the time is up:
     * when a device was ready with no MISS to read, when {@link #close()} wakes it, or when the thread is signalled
     * ({@code epoll_wait}'s EINTR); call it in a loop. A call in progress when another thread closes the manager
     * returns; a call made after {@link #close()} throws, as {@code Selector.select} does. It waits inside
     * {@code epoll_wait}: call it from a platform thread (a virtual thread would pin its carrier for the wait).
     *
     * @return the number of misses read
     * @throws IllegalArgumentException if {@code timeoutMillis} is below -1
     * @throws IllegalStateException    if the manager was closed before the call
     */
    public int processReady(int timeoutMillis) {
        if (timeoutMillis < -1) {
            throw new IllegalArgumentException("timeoutMillis " + timeoutMillis + ": 0, a positive number, or -1");
        }
        checkOpen();
        synchronized (loopLock) {
            if (closing) {
                return 0; // closed while this call waited for the loop lock
            }
            int n = Sys.epollWait(epoll.number(), events, MAX_EVENTS, timeoutMillis);
            int misses = 0;
            for (int i = 0; i < n; i++) {
                long token = events.get(TOKEN, i * epoll_event.sizeof() + epoll_event.data$offset());
                if (token == WAKEUP_TOKEN) {
                    drainWakeup();
                    continue;
                }
                ManagedDevice md = devices.get(token);
                if (md != null) {
                    misses += md.drain(readBuf, writeBuf);
                }
            }
            if (n == 0) {
                sweepClosed();
            }
            return misses;
        }
    }

    private void drainWakeup() {
        try {
            wakeup.drain();
        } catch (VhostException | IllegalStateException e) {
            // closing
        }
        sweepClosed();
    }

    private void sweepClosed() {
        for (ManagedDevice md : devices.all()) {
            if (md.device.isClosed()) {
                md.unregister();
            }
        }
    }

    private void checkOpen() {
        if (closing) {
            throw new IllegalStateException("IOTLB manager is closed");
        }
    }

    /** Stops the loop (waking it at once), unregisters every device and frees the manager's resources. */
    @Override
    public void close() {
        Thread t;
        synchronized (this) {
            if (closing) {
                return;
            }
            closing = true;
            t = thread;
        }
        try {
            wakeup.signal();
        } catch (VhostException | IllegalStateException ignored) {
            // the loop also notices closing on its next timeout
        }
        if (t != null && t != Thread.currentThread()) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        synchronized (loopLock) {
            for (ManagedDevice md : devices.all()) {
                md.unregister();
            }
            wakeup.close();
            epoll.close();
        }
    }
}
