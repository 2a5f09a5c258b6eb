package io.vhost4j.vdpa;

import io.vhost4j.Access;
import io.vhost4j.VhostException;
import io.vhost4j.internal.gen.vduse_iotlb_entry;
import io.vhost4j.internal.sys.Errors;
import io.vhost4j.internal.sys.Fd;
import io.vhost4j.internal.sys.Sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import static io.vhost4j.internal.gen.VhostH.*;

/**
 * A VDUSE device's view of the driver's memory: every mapping the kernel's IOTLB holds for it, each mapped into
 * this process from the file {@code VDUSE_IOTLB_GET_FD} hands out (vhost-vdpa maps only file-backed shared memory
 * for VDUSE). {@link VduseDevice}'s message thread refreshes it on every {@code VDUSE_UPDATE_IOTLB}; the device's
 * data path copies bytes in and out by IOVA, and an address without a mapping of the needed access is an
 * {@link IovaFaultException}, never a crash. The message thread only withdraws what changed; the mappings are
 * read again (and mmap'd, munmap'd) on the next access, by the thread that accesses. A mapping the kernel gives write-only access cannot be mapped into
 * this process (mmap needs read access to the file) and stays a fault.
 *
 * <p>Thread-safe: copies run under a read lock, a refresh (which unmaps) under the write lock.
 */
public final class VduseIotlb implements AutoCloseable {
    /** One mapping: IOVAs {@code start..last} (inclusive) with {@code perm}. */
    public record Mapping(long start, long last, Access perm) {
        /** Its length in bytes. */
        public long size() {
            return last - start + 1;
        }
    }

    private record Region(Mapping mapping, MemorySegment bytes, Arena arena) {}

    private final Fd device;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final List<Region> regions = new ArrayList<>(); // sorted by start
    private final List<long[]> pending = new ArrayList<>(); // ranges the kernel changed, not yet read again
    private final List<Region> stale = new ArrayList<>();   // withdrawn mappings, not yet unmapped
    private long refreshes, generation;
    private boolean closed;

    VduseIotlb(Fd device) {
        this.device = device;
    }

    /** The mappings, lowest IOVA first (read again from the kernel where it changed them). */
    public List<Mapping> mappings() throws VhostException {
        settle();
        lock.readLock().lock();
        try {
            return regions.stream().map(Region::mapping).toList();
        } finally {
            lock.readLock().unlock();
        }
    }

    /** How many times the kernel told the device its mappings changed. */
    public long refreshes() {
        lock.readLock().lock();
        try {
            return refreshes;
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * Takes note that the kernel's mappings in {@code [start, last]} (unsigned) changed: every mapping of this view
     * that overlaps it is withdrawn at once (no copy touches it after this returns), and the range is read again
     * from the kernel on the next access. Called by the message thread, which must answer quickly and must not
     * mmap or munmap here: the kernel may send this message while it holds the address-space lock of the VMM's
     * process (vhost-vdpa maps unbatched UPDATEs under it), and when the VMM is this process, an mmap would wait
     * for that lock, which waits for this answer.
     */
    void refresh(long start, long last) {
        List<Region> withdrawn = new ArrayList<>();
        lock.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            refreshes++;
            generation++;
            regions.removeIf(r -> {
                boolean overlaps = Long.compareUnsigned(r.mapping.start, last) <= 0
                        && Long.compareUnsigned(r.mapping.last, start) >= 0;
                if (overlaps) {
                    withdrawn.add(r);
                }
                return overlaps;
            });
            pending.add(new long[] {start, last});
            stale.addAll(withdrawn);
        } finally {
            lock.writeLock().unlock();
        }
    }

    /**
     * Brings the view up to date if the kernel changed it: unmaps what was withdrawn and maps what the kernel
     * has now in the changed ranges. The syscalls run outside the lock; if another change arrives meanwhile, the
     * work is redone.
     */
    private void settle() throws VhostException {
        while (true) {
            List<long[]> ranges;
            List<Region> old;
            long gen;
            lock.writeLock().lock();
            try {
                if (pending.isEmpty() && stale.isEmpty()) {
                    return;
                }
                ranges = new ArrayList<>(pending);
                old = new ArrayList<>(stale);
                stale.clear();
                gen = generation;
            } finally {
                lock.writeLock().unlock();
            }
            old.forEach(r -> r.arena.close()); // munmap, outside the lock
            List<Region> fresh = new ArrayList<>();
            try {
                for (long[] range : ranges) {
                    long cur = range[0];
                    while (true) {
                        Region r = fetch(cur, range[1]);
                        if (r == null) {
                            break;
                        }
                        fresh.add(r);
                        if (Long.compareUnsigned(r.mapping.last, range[1]) >= 0 || r.mapping.last == -1L) {
                            break;
                        }
                        cur = r.mapping.last + 1;
                    }
                }
            } catch (VhostException | RuntimeException e) {
                fresh.forEach(r -> r.arena.close());
                throw e;
            }
            List<Region> discard = new ArrayList<>();
            boolean done;
            lock.writeLock().lock();
            try {
                done = generation == gen || closed;
                if (generation == gen && !closed) {
                    pending.clear();
                    for (Region r : fresh) {
                        boolean known = regions.stream().anyMatch(o -> o.mapping.equals(r.mapping));
                        if (known) {
                            discard.add(r);
                        } else {
                            regions.add(r);
                        }
                    }
                    regions.sort((a, b) -> Long.compareUnsigned(a.mapping.start, b.mapping.start));
                } else {
                    discard.addAll(fresh); // changed again meanwhile (or closed): read it once more
                }
            } finally {
                lock.writeLock().unlock();
            }
            discard.forEach(r -> r.arena.close());
            if (done) {
                return;
            }
        }
    }

    /** The first kernel mapping overlapping {@code [from, last]}, mapped here, or {@code null} if none. */
    private Region fetch(long from, long last) throws VhostException {
        Sys.Local l = Sys.local();
        MemorySegment e = l.scratch();
        e.asSlice(0, vduse_iotlb_entry.sizeof()).fill((byte) 0);
        vduse_iotlb_entry.start(e, from);
        vduse_iotlb_entry.last(e, last);
        int fd = device.ioctl(l, VDUSE_IOTLB_GET_FD(), e);
        if (fd == -EINVAL()) {
            return null; // nothing mapped there
        }
        Errors.check(fd, "VDUSE_IOTLB_GET_FD", device.name());
        long offset = vduse_iotlb_entry.offset(e), s = vduse_iotlb_entry.start(e), t = vduse_iotlb_entry.last(e);
        Access perm = Access.of(vduse_iotlb_entry.perm(e) & 0xff);
        Mapping m = new Mapping(s, t, perm);
        try {
            long size = t - s + 1, pageOff = offset & 4095;
            int prot = (perm.allows(Access.RO) ? PROT_READ() : 0) | (perm.allows(Access.WO) ? PROT_WRITE() : 0);
            long addr = Sys.mmap(0, size + pageOff, prot, MAP_SHARED(), fd, offset - pageOff);
            if (addr < 0) { // a write-only file cannot be mapped: keep the range, without bytes
                return new Region(m, null, Arena.ofShared());
            }
            Arena arena = Arena.ofShared();
            MemorySegment all = MemorySegment.ofAddress(addr).reinterpret(size + pageOff, arena,
                    x -> Sys.munmap(addr, size + pageOff));
            return new Region(m, all.asSlice(pageOff, size), arena);
        } finally {
            Sys.close(fd); // the mapping keeps the file
        }
    }

    /** Copies {@code dst.byteSize()} bytes from IOVA {@code iova} (needs read access). */
    public void read(long iova, MemorySegment dst) throws IovaFaultException {
        java.util.Objects.requireNonNull(dst, "dst");
        copy(iova, dst, Access.RO);
    }

    /** Copies {@code src} to IOVA {@code iova} (needs write access). */
    public void write(long iova, MemorySegment src) throws IovaFaultException {
        java.util.Objects.requireNonNull(src, "src");
        copy(iova, src, Access.WO);
    }

    private void copy(long iova, MemorySegment buf, Access access) throws IovaFaultException {
        long len = buf.byteSize();
        try {
            settle();
        } catch (VhostException e) {
            IovaFaultException f = new IovaFaultException(iova, len, access);
            f.initCause(e);
            throw f;
        }
        lock.readLock().lock();
        try {
            long done = 0;
            while (done < len) {
                long at = iova + done;
                Region r = find(at);
                if (r == null || r.bytes == null || !r.mapping.perm.allows(access)) {
                    throw new IovaFaultException(iova, len, access);
                }
                long off = at - r.mapping.start;
                long n = Math.min(len - done, r.mapping.size() - off);
                if (n <= 0) { // a mapping of 2^64 bytes: cannot happen on a 64-bit process
                    throw new IovaFaultException(iova, len, access);
                }
                if (access == Access.RO) {
                    MemorySegment.copy(r.bytes, off, buf, done, n);
                } else {
                    MemorySegment.copy(buf, done, r.bytes, off, n);
                }
                done += n;
            }
        } finally {
            lock.readLock().unlock();
        }
    }

    private Region find(long iova) {
        for (Region r : regions) {
            if (Long.compareUnsigned(iova, r.mapping.start) >= 0 && Long.compareUnsigned(iova, r.mapping.last) <= 0) {
                return r;
            }
        }
        return null;
    }

    /** Whether {@code [iova, iova+length)} is mapped here with {@code access}. */
    public boolean isMapped(long iova, long length, Access access) throws VhostException {
        if (length <= 0) {
            throw new IllegalArgumentException("length " + length + " must be positive");
        }
        settle();
        lock.readLock().lock();
        try {
            long done = 0;
            while (done < length) {
                Region r = find(iova + done);
                if (r == null || r.bytes == null || !r.mapping.perm.allows(access)) {
                    return false;
                }
                done += r.mapping.size() - (iova + done - r.mapping.start);
            }
            return true;
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Unmaps everything; later copies fault. */
    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            closed = true;
            regions.forEach(r -> r.arena.close());
            regions.clear();
            stale.forEach(r -> r.arena.close());
            stale.clear();
            pending.clear();
        } finally {
            lock.writeLock().unlock();
        }
    }
}
