package io.vhost4j.iotlb;

import io.vhost4j.Access;
import io.vhost4j.IotlbMessage;
import io.vhost4j.MemoryRegion;
import io.vhost4j.VhostDevice;
import io.vhost4j.VhostException;
import io.vhost4j.internal.access.DeviceHandles;
import io.vhost4j.internal.sys.Fd;

import java.util.List;

/**
 * A device registered with an {@link IotlbManager}: its translator, statistics and mapping view, and the
 * calls a VMM makes for it (prefault before starting queues, invalidate when the guest invalidates).
 */
public final class ManagedDevice {
    final IotlbManager manager;
    final VhostDevice device;
    final Fd handle;
    final Translator translator;
    final MemoryRegion[] guestMemory;
    final long token;
    final Translation translation = new Translation();
    final MappingView view = new MappingView(IotlbManager.VIEW_CAPACITY);
    final LatencyHistogram latency = new LatencyHistogram();
    boolean removed;
    Thread servingThread; // the loop thread while it drains this device's misses
    long misses, duplicates, updates, invalidations, faults, unexpected;

    ManagedDevice(IotlbManager manager, VhostDevice device, List<MemoryRegion> guestMemory, Translator translator,
                  long token) {
        this.manager = manager;
        this.device = device;
        this.handle = DeviceHandles.of(device);
        this.guestMemory = guestMemory.toArray(MemoryRegion[]::new);
        this.translator = translator;
        this.token = token;
    }

    /** The device. */
    public VhostDevice device() {
        return device;
    }

    /**
     * Maps {@code [iova, iova+size)} now, through the translator, as the kernel's misses would; for the used
     * rings, which must be mapped before {@code VHOST_NET_SET_BACKEND}. Faults are reported as for misses.
     *
     * @return whether the whole range was mapped
     */
    public boolean prefault(long iova, long size, Access access) {
        IotlbMessage.checkRange(iova, size);
        Translation t = new Translation(); // not the loop's: prefault may run beside it
        long last = iova + (size - 1);
        long cur = iova;
        int fd = handle.acquire();
        try {
            while (true) {
                long mapped = manager.map(this, fd, cur, access, t, false);
                if (mapped == 0) {
                    return false;
                }
                if (Long.compareUnsigned(cur + (mapped - 1), last) >= 0 || cur + mapped == 0) {
                    return true;
                }
                cur += mapped;
            }
        } finally {
            handle.release();
        }
    }

    /** Writes INVALIDATE for {@code [iova, iova+size)} (every overlapping mapping goes) and updates the view. */
    public void invalidate(long iova, long size) throws VhostException {
        IotlbMessage.checkRange(iova, size);
        device.writeIotlb(IotlbMessage.invalidate(iova, size)); // the kernel orders it with the loop's updates
        synchronized (this) {
            invalidations++;
            view.invalidate(iova, iova + (size - 1));
        }
    }

    /** Whether the manager believes {@code iova} is mapped with a permission allowing {@code access}. */
    public synchronized boolean isMapped(long iova, Access access) {
        return view.covers(iova, access);
    }

    /** Stops serving this device (it stays open). */
    public void unregister() {
        manager.unregister(this);
    }

    /** Whether the device was unregistered (or found closed). */
    public synchronized boolean isRegistered() {
        return !removed;
    }

    /** The counters now. */
    public synchronized DeviceStats stats() {
        return new DeviceStats(misses, duplicates, updates, invalidations, faults, view.size(), latency.snapshot());
    }

    /** Forgets the latency figures (e.g. after warm-up). */
    public void resetLatency() {
        latency.reset();
    }

    @Override
    public String toString() {
        return "ManagedDevice[" + device.path() + "]";
    }
}
