package io.vhost4j.iotlb;

import io.vhost4j.Access;
import io.vhost4j.IotlbMessage;
import io.vhost4j.MemoryRegion;
import io.vhost4j.VhostDevice;
import io.vhost4j.VhostException;
import io.vhost4j.internal.sys.IotlbChannel;
import io.vhost4j.internal.sys.IotlbWire;
import io.vhost4j.internal.sys.Sys;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

import static io.vhost4j.internal.gen.VhostH.VHOST_IOTLB_MISS;
import static io.vhost4j.internal.gen.VhostH.VHOST_IOTLB_UPDATE;

/**
 * A device registered with an {@code IotlbManager}: it serves its own misses (read through its IOTLB channel,
 * resolved by {@link MissResolver}, answered on the channel), keeps its statistics and mapping view, and takes
 * the calls a VMM makes for it (prefault before starting queues, invalidate when the guest invalidates).
 */
public final class ManagedDevice {
    /** Takes this device out of its manager (epoll set, slots); called once, by {@link #unregister()}. */
    private final Consumer<ManagedDevice> unregistrar;
    final VhostDevice device;
    final IotlbChannel channel;
    final long token;
    private final Translator translator;
    private final MemoryRegion[] guestMemory;
    /** The VMM's fault listener, as its manager hands it on. */
    private final BiConsumer<ManagedDevice, IotlbFault> listener;
    /**
     * What one thread needs to map: scratch for the translator and the resolver, the message buffer, its syscall
     * buffers, and the device's descriptor held for the run ({@link IotlbChannel#begin()}). The loop has one for
     * good; {@code prefault} and {@code retryFaults} make their own. Nothing in it is allocated per miss.
     */
    private static final class Work {
        final Translation translation = new Translation();
        final MissResolver.Resolution resolution = new MissResolver.Resolution();
        final MissResolver.Resolution piece = new MissResolver.Resolution();   // a neighbour
        final MissResolver.Resolution ahead = new MissResolver.Resolution();   // prefetching
        final Sys.Local local = Sys.local();
        MemorySegment buf;
        int held;

        Work(MemorySegment buf) {
            this.buf = buf;
        }
    }

    private Work loopWork; // the loop thread's (created on its first drain)
    /**
     * Held from a translation to the end of its UPDATE's write, and across an INVALIDATE's write. The view is
     * changed only under both this lock and the device's monitor, so a reader holding either one sees it whole:
     * the miss path reads it under this lock alone (one monitor per miss), {@link #stats()} and
     * {@link #isMapped} under the monitor alone (they never wait for a translation, however slow).
     */
    private final Object mapLock = new Object();
    private final MappingPolicy policy;
    private boolean hasLastMiss;             // the loop's: the previous miss's mapping, for prefetch
    private long lastMissFirst, lastMissLast;
    private static final long PAGE = 4096;
    /** A miss for an address among this many newest mappings counts as a duplicate (bounded work per miss). */
    static final int DUPLICATE_WINDOW = 16;
    /** Capacity of each device's mapping view: the kernel's default {@code max_iotlb_entries}. */
    static final int VIEW_CAPACITY = 2048;
    private final MappingView view = new MappingView(VIEW_CAPACITY); // changed under mapLock and this: see mapLock
    private final LatencyHistogram latency = new LatencyHistogram(); // guarded by this
    private long misses, duplicates, updates, prefetches, invalidations, faults, staleMisses, unexpected; // guarded by this
    /** Misses refused as faults and not answered since: {iova, access code} pairs, oldest first. */
    private final long[] unanswered = new long[2 * MAX_UNANSWERED]; // guarded by this
    private int unansweredCount; // guarded by this
    /** How many refused misses a device remembers for {@link #retryFaults()}; older ones are dropped. */
    public static final int MAX_UNANSWERED = 256;
    /**
     * Set once by {@link #unregister()} under this monitor. It and {@link #servingThread} are volatile and
     * each side writes its own before reading the other's, so a drain and an unregistration never miss each other
     * and the loop takes no monitor per wake-up: either the drain sees {@code removed} and reads nothing, or the
     * unregistration sees the drain and waits for it to leave (notified only when it waits).
     */
    volatile boolean removed;
    /** The loop thread while it drains this device's misses, else {@code null}. */
    volatile Thread servingThread;

    ManagedDevice(Consumer<ManagedDevice> unregistrar, VhostDevice device, IotlbChannel channel,
                  List<MemoryRegion> guestMemory, Translator translator, MappingPolicy policy,
                  BiConsumer<ManagedDevice, IotlbFault> listener, long token) {
        this.unregistrar = unregistrar;
        this.device = device;
        this.channel = channel;
        this.guestMemory = guestMemory.toArray(MemoryRegion[]::new);
        this.translator = translator;
        this.policy = policy;
        this.listener = listener;
        this.token = token;
    }

    /** The device. */
    public VhostDevice device() {
        return device;
    }

    // ---- serving (the manager's loop thread) ---------------------------------------------------------

    /**
     * Reads and answers every queued miss; returns how many were read. The monitor is held only around the
     * counters and the view, never across a syscall, so that a VMM thread calling {@link #invalidate} is never
     * held up by a drain.
     */
    int drain(MemorySegment readBuf, MemorySegment writeBuf) {
        servingThread = Thread.currentThread(); // then read removed: see there
        if (removed) {
            leave();
            return 0;
        }
        if (device.isClosed()) {
            leave();
            unregister();
            return 0;
        }
        if (loopWork == null) {
            loopWork = new Work(writeBuf);
        }
        Work w = loopWork;
        w.buf = writeBuf;
        int read = 0;
        boolean held = false;
        try {
            w.held = channel.begin(); // once for the whole drain: no atomic per message
            held = true;
            while (!removed) { // unregistered meanwhile, e.g. by the fault listener on this thread: read no more
                long n = channel.read(w.held, w.local, readBuf);
                if (n == IotlbChannel.NONE) {
                    return read;
                }
                if (n < 0) {
                    fault(false, 0, Access.RO, IotlbFault.Reason.KERNEL_ERROR, "read: " + IotlbChannel.describe(n));
                    return read;
                }
                long received = System.nanoTime();
                if (IotlbWire.type(readBuf) != VHOST_IOTLB_MISS()) {
                    synchronized (this) {
                        unexpected++;
                    }
                    continue;
                }
                read++;
                long iova = IotlbWire.iova(readBuf);
                int perm = IotlbWire.perm(readBuf);
                if (perm < 1 || perm > 3) {
                    fault(true, iova, Access.RO, IotlbFault.Reason.KERNEL_ERROR, "MISS with permission " + perm);
                    continue;
                }
                map(iova, Access.of(perm), w, true, received);
            }
            return read;
        } catch (IllegalStateException closed) { // the device was closed before the drain
            unregister();
            return read;
        } finally {
            if (held) {
                channel.end();
            }
            leave();
        }
    }

    /** Ends a drain: wakes an unregistration waiting for it (only then: notifying costs a call into the VM). */
    private void leave() {
        servingThread = null; // then read removed: see there
        if (removed) {
            synchronized (this) {
                notifyAll();
            }
        }
    }

    /**
     * Resolves {@code iova}, grows the answer as the policy says, and writes the UPDATE; for a {@code miss} (read at
     * {@code received}, a {@link System#nanoTime()}), counts the miss together with
     * its outcome (the update or the fault), so that a {@link DeviceStats} snapshot never shows a miss without it,
     * and records its service time up to the UPDATE written (as the C loop of the benchmarks measures it).
     * Translation and write happen under the mapping lock (see {@link #invalidate}).
     *
     * @return the bytes mapped from {@code iova} on (0 after a fault)
     */
    private long map(long iova, Access access, Work w, boolean miss, long received) {
        Translation t = w.translation;
        MissResolver.Resolution r = w.resolution;
        IotlbFault.Reason failed;
        String why;
        synchronized (mapLock) {
            boolean duplicate = miss && answerAgain(iova, access, r);
            if (duplicate || MissResolver.resolve(iova, access, translator, guestMemory, t, r)) {
                if (!duplicate && policy.coalesceBytes() > 0) {
                    MissResolver.coalesce(r, access, policy.coalesceBytes(), translator, guestMemory, t, w.piece);
                }
                if (!duplicate && miss && policy.prefetchEntries() > 0) {
                    // Before the answer: the answer wakes the device, which should find the entries ahead mapped.
                    prefetch(iova, access, w);
                }
                long rc = writeUpdate(r, w);
                if (rc >= 0) {
                    if (miss) {
                        recordAnswer(r, iova, System.nanoTime() - received, duplicate);
                    } else {
                        recordMapping(r, false);
                    }
                    return r.fromMissed;
                }
                failed = IotlbFault.Reason.KERNEL_ERROR;
                why = "write(UPDATE): " + IotlbChannel.describe(rc);
            } else {
                failed = r.fault;
                why = r.detail;
                // The kernel holds a mapping for it (the guest is unmapping it right now), or a miss of this very
                // address was answered and that mapping since invalidated: either way this MISS was queued before,
                // and its access went through the first answer. (The view, under the mapping lock: see there.)
                if (failed == IotlbFault.Reason.NO_MAPPING && miss
                        && (view.covers(iova, access) || view.answeredAndDropped(iova))) {
                    failed = IotlbFault.Reason.STALE_MISS;
                    why = "a duplicate MISS for a mapping the guest has removed since";
                }
            }
        }
        fault(miss, iova, access, failed, why); // outside the lock: the listener may invalidate from elsewhere
        return 0;
    }

    /**
     * Maps up to the policy's {@code prefetchEntries} translator entries beyond the mapping {@code r} about to be
     * written for a miss of {@code iova}, when that miss continued the previous miss's mapping (upwards or
     * downwards by at most a page): the device is walking IOVA space sequentially. Stops at the first entry that
     * does not resolve or that one of the manager's newest mappings covers. Loop thread only, under the mapping lock.
     */
    private void prefetch(long iova, Access access, Work w) {
        MissResolver.Resolution r = w.resolution, ahead = w.ahead;
        int direction = 0;
        if (hasLastMiss) {
            if (Long.compareUnsigned(iova, lastMissLast) > 0 && Long.compareUnsigned(iova - lastMissLast, PAGE) <= 0) {
                direction = 1;
            } else if (Long.compareUnsigned(iova, lastMissFirst) < 0
                    && Long.compareUnsigned(lastMissFirst - iova, PAGE) <= 0) {
                direction = -1;
            }
        }
        hasLastMiss = true;
        lastMissFirst = r.first;
        lastMissLast = r.last();
        if (direction == 0) {
            return;
        }
        ahead.copyFrom(r);
        for (int i = 0; i < policy.prefetchEntries(); i++) {
            if (!MissResolver.beyond(ahead, direction > 0, access, translator, guestMemory, w.translation, w.piece)) {
                return;
            }
            ahead.copyFrom(w.piece);
            if (view.coversRecent(direction > 0 ? ahead.first : ahead.last(), access, DUPLICATE_WINDOW)) {
                return; // the view, under the mapping lock: see there
            }
            if (policy.coalesceBytes() > 0) {
                MissResolver.coalesce(ahead, access, policy.coalesceBytes(), translator, guestMemory, w.translation,
                        w.piece);
            }
            if (writeUpdate(ahead, w) < 0) {
                return; // nobody asked for it: a miss will tell if it matters
            }
            recordMapping(ahead, true);
            // The walk goes on from the far end of what was mapped ahead: the device's next miss continues it.
            if (direction > 0) {
                lastMissLast = ahead.last();
            } else {
                lastMissFirst = ahead.first;
            }
        }
    }

    /**
     * Whether the miss of {@code iova} is a duplicate, one of the newest {@value #DUPLICATE_WINDOW} mappings
     * covering it for {@code access}: the kernel raised it again before that mapping landed. It is answered with
     * that mapping again ({@code r} set to it), not translated anew: a slow translator is asked once per
     * mapping, however often the kernel re-raises the miss. As safe as a translation: an invalidation since would
     * have dropped the mapping from the view, and one racing this answer waits for the mapping lock held here. The
     * UPDATE is still written: it wakes whichever queue raised this MISS (the first answer woke only queues whose
     * MISS had been read by then). Under the mapping lock, which is enough to read the view (see there).
     */
    private boolean answerAgain(long iova, Access access, MissResolver.Resolution r) {
        int m = view.findRecent(iova, access, DUPLICATE_WINDOW);
        if (m < 0) {
            return false;
        }
        r.answerWith(view.first(m), view.last(m), view.userAddr(m), view.perm(m), iova);
        return true;
    }

    private long writeUpdate(MissResolver.Resolution r, Work w) {
        IotlbWire.put(w.buf, device.iotlbMessagesV2(), 0, VHOST_IOTLB_UPDATE(), r.first, r.size, r.userAddr,
                r.perm.code());
        return channel.write(w.held, w.local, w.buf);
    }

    /**
     * Counts the miss of {@code iova} with the UPDATE written for it {@code servedNanos} after its read (a
     * {@code duplicate} answered again from the view).
     */
    private synchronized void recordAnswer(MissResolver.Resolution r, long iova, long servedNanos, boolean duplicate) {
        latency.record(servedNanos);
        misses++;
        if (duplicate) {
            duplicates++;
        }
        updates++;
        view.addAnswer(r.first, r.last(), r.userAddr, r.perm, iova);
    }

    /** Counts an UPDATE that answers no miss: a prefault, a retry, or (when {@code ahead}) a prefetched entry. */
    private synchronized void recordMapping(MissResolver.Resolution r, boolean ahead) {
        updates++;
        if (ahead) {
            prefetches++;
        }
        view.add(r.first, r.last(), r.userAddr, r.perm);
    }

    private void fault(boolean miss, long iova, Access access, IotlbFault.Reason reason, String detail) {
        synchronized (this) {
            if (miss) {
                misses++;
                if (reason == IotlbFault.Reason.STALE_MISS) {
                    staleMisses++; // nothing waits for it: not kept for retryFaults
                } else {
                    remember(iova, access);
                }
            }
            faults++;
        }
        int[] depth = LISTENER_DEPTH.get();
        depth[0]++;
        try {
            listener.accept(this, new IotlbFault(iova, access, reason, detail));
        } catch (RuntimeException ignored) {
            // a listener's bug must not stop the loop
        } finally {
            depth[0]--;
        }
    }

    /**
     * How deep this thread is inside fault listeners; a listener may map again ({@link #prefault},
     * {@link #retryFaults}), and that may fault again, but not without end: a listener that retries on every fault
     * would otherwise recurse until the stack overflows, and the loop thread would die of it.
     */
    private static final ThreadLocal<int[]> LISTENER_DEPTH = ThreadLocal.withInitial(() -> new int[1]);
    /** How many fault listeners deep, on one thread, {@link #prefault} and {@link #retryFaults} still map. */
    public static final int MAX_LISTENER_NESTING = 8;

    private static void checkNesting() {
        if (LISTENER_DEPTH.get()[0] >= MAX_LISTENER_NESTING) {
            throw new IllegalStateException("mapping from a fault listener " + MAX_LISTENER_NESTING + " listeners deep:"
                    + " a listener that maps again on every fault would never end");
        }
    }

    /** Keeps a refused miss for {@link #retryFaults()} (once per IOVA and access; the oldest goes when full). */
    private void remember(long iova, Access access) {
        for (int i = 0; i < unansweredCount; i++) {
            if (unanswered[2 * i] == iova && unanswered[2 * i + 1] == access.code()) {
                return;
            }
        }
        if (unansweredCount == MAX_UNANSWERED) {
            System.arraycopy(unanswered, 2, unanswered, 0, unanswered.length - 2);
            unansweredCount--;
        }
        unanswered[2 * unansweredCount] = iova;
        unanswered[2 * unansweredCount + 1] = access.code();
        unansweredCount++;
    }

    // ---- the VMM's calls -----------------------------------------------------------------------------

    /**
     * Answers again the misses that were refused as faults (the last {@value #MAX_UNANSWERED}): each is
     * translated anew, and the UPDATE of each that now resolves is written. The kernel keeps a miss it handed out
     * pending until an UPDATE covers it, and that UPDATE wakes the queue that stalled on it: call this after the
     * vIOMMU gained the mappings, and the stalled queues resume without a kick. A miss that still does not resolve
     * is reported as a fault again and kept.
     *
     * @return how many refused misses were answered now
     * @throws IllegalStateException once {@linkplain #unregister() unregistered} (its misses may be another's now),
     *         or from fault listeners nested {@value #MAX_LISTENER_NESTING} deep on this thread
     */
    public int retryFaults() {
        checkRegistered();
        checkNesting();
        long[] pending;
        int count;
        synchronized (this) {
            count = unansweredCount;
            pending = java.util.Arrays.copyOf(unanswered, 2 * count);
            unansweredCount = 0;
        }
        Work w = new Work(Sys.scratch().asSlice(0, IotlbWire.SIZE)); // not the loop's: the caller's thread
        int answered = 0;
        w.held = channel.begin();
        try {
            for (int i = 0; i < count; i++) {
                long iova = pending[2 * i];
                Access access = Access.of((int) pending[2 * i + 1]);
                if (map(iova, access, w, false, 0) != 0) {
                    answered++;
                } else {
                    synchronized (this) {
                        remember(iova, access);
                    }
                }
            }
        } finally {
            channel.end();
        }
        return answered;
    }

    /** The refused misses {@link #retryFaults()} would answer again. */
    public synchronized int unansweredFaults() {
        return unansweredCount;
    }

    /**
     * Maps {@code [iova, iova+size)} now, through the translator, as the kernel's misses would; for the used
     * rings, which must be mapped before {@code VHOST_NET_SET_BACKEND}. Faults are reported as for misses.
     *
     * @return whether the whole range was mapped
     * @throws IllegalStateException once {@linkplain #unregister() unregistered} (its misses may be another's now),
     *         or from fault listeners nested {@value #MAX_LISTENER_NESTING} deep on this thread
     */
    public boolean prefault(long iova, long size, Access access) {
        IotlbMessage.checkRange(iova, size);
        java.util.Objects.requireNonNull(access, "access");
        checkRegistered();
        checkNesting();
        Work w = new Work(Sys.scratch().asSlice(0, IotlbWire.SIZE)); // not the loop's: prefault may run beside it
        long last = iova + (size - 1);
        long cur = iova;
        w.held = channel.begin();
        try {
            while (true) {
                long mapped = map(cur, access, w, false, 0);
                if (mapped == 0) {
                    return false;
                }
                if (Long.compareUnsigned(cur + (mapped - 1), last) >= 0 || cur + mapped == 0) {
                    return true;
                }
                cur += mapped;
            }
        } finally {
            channel.end();
        }
    }

    /**
     * Writes INVALIDATE for {@code [iova, iova+size)}: the kernel drops every mapping overlapping it, also the parts
     * outside it (a coalesced mapping goes whole), and the view follows.
     *
     * <p>Remove the range from the translator <em>first</em>, then call this. The manager holds one lock from each
     * translation to the end of its UPDATE's write, and this write takes it too: an UPDATE made from a
     * translation older than the removal is written before this INVALIDATE (and dropped by it), never after.
     * Waits at most for one UPDATE (or one prefetch entry) in progress. An INVALIDATE is always safe: this works
     * after {@linkplain #unregister() unregistration} too, as long as the device is open and no manager serves it
     * again.
     *
     * @throws IllegalStateException once unregistered, if the device is registered again (with this manager or
     *         another): invalidate through its new {@code ManagedDevice}, whose view must see the INVALIDATE (it
     *         answers duplicate misses from that view)
     */
    public void invalidate(long iova, long size) throws VhostException {
        IotlbMessage.checkRange(iova, size);
        synchronized (mapLock) {
            if (removed && channel.isClaimed()) {
                throw new IllegalStateException(device.path() + " is registered again: invalidate through its new"
                        + " ManagedDevice");
            }
            // Through the channel, as every message of a served device (VhostDevice.writeIotlb refuses then), encoded
            // as writeIotlb encodes it.
            IotlbMessage message = IotlbMessage.invalidate(iova, size);
            MemorySegment m = Sys.scratch().asSlice(0, IotlbWire.SIZE);
            message.encode(m, device.iotlbMessagesV2());
            channel.writeOrThrow(m, "write(IOTLB " + message.type() + ")", device.path());
            synchronized (this) {
                invalidations++;
                view.invalidate(iova, iova + (size - 1));
            }
        }
    }

    /** How this device's misses are answered. */
    public MappingPolicy policy() {
        return policy;
    }

    /** Whether the manager believes {@code iova} is mapped with a permission allowing {@code access}. */
    public synchronized boolean isMapped(long iova, Access access) {
        return view.covers(iova, access);
    }

    /**
     * Stops serving this device (it stays open): once this returns, the manager's loop no longer reads it, and
     * another manager may register it. Unregistering twice does nothing.
     */
    public void unregister() {
        synchronized (this) {
            if (removed) {
                return;
            }
            removed = true; // then read servingThread: see removed
            // Wait for a drain of this device on the loop thread to end, so that the loop never reads the fd
            // after this returns (the caller may close it, and the number may be reused).
            for (Thread t = servingThread; t != null && t != Thread.currentThread(); t = servingThread) {
                try {
                    wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            unregistrar.accept(this);
            channel.release(this); // another manager may serve it now
        }
    }

    /** Whether the device is still registered (not unregistered, nor found closed). */
    public boolean isRegistered() {
        return !removed;
    }

    private void checkRegistered() {
        if (removed) {
            throw new IllegalStateException(device.path() + " is no longer registered with this IOTLB manager");
        }
    }

    /** The counters now, as one consistent snapshot. */
    public synchronized DeviceStats stats() {
        return new DeviceStats(misses, duplicates, updates, prefetches, invalidations, faults, staleMisses, view.size(),
                latency.snapshot());
    }

    /** Forgets the latency figures (e.g. after warm-up). */
    public synchronized void resetLatency() {
        latency.reset();
    }

    @Override
    public String toString() {
        return "ManagedDevice[" + device.path() + "]";
    }
}
