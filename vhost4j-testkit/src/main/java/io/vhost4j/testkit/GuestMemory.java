package io.vhost4j.testkit;

import io.vhost4j.MemoryRegion;
import io.vhost4j.MemoryTable;
import io.vhost4j.VhostException;
import io.vhost4j.internal.sys.Errors;
import io.vhost4j.internal.sys.Sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static io.vhost4j.internal.gen.VhostH.*;

/**
 * "Guest" memory for driving vhost without a VM: mmap'd regions, each placed at a guest-physical address (GPA),
 * anonymous and private ({@link #allocate}), or shared and backed by a memfd ({@link #allocateShared}: what vDPA
 * over VDUSE needs, since vhost-vdpa hands a VDUSE device only file-backed shared memory). Guest-physical and user (this process's virtual) addresses are kept apart
 * by name: {@link #userAddress(long)} and {@link #guestAddress(long)} translate between them.
 *
 * <p>After {@link #close()} the memory is unmapped and every segment obtained from it throws
 * {@link IllegalStateException} on access (never a crash).
 */
public final class GuestMemory implements AutoCloseable {
    /** One mapped region: guest-physical base, and the segment holding its bytes. */
    public record Region(long guestPhysAddr, MemorySegment segment) {
        /** Region size in bytes. */
        public long size() {
            return segment.byteSize();
        }

        /** This region as vhost's memory table sees it. */
        public MemoryRegion toMemoryRegion() {
            return new MemoryRegion(guestPhysAddr, segment.byteSize(), segment.address());
        }
    }

    private final Arena arena;
    private final List<Region> regions;

    private GuestMemory(Arena arena, List<Region> regions) {
        this.arena = arena;
        this.regions = List.copyOf(regions);
    }

    /** One region of {@code size} bytes at guest-physical {@code guestPhysAddr}. */
    public static GuestMemory allocate(long guestPhysAddr, long size) throws VhostException {
        return allocate(List.of(new MemoryRegion(guestPhysAddr, size, 0)));
    }

    /**
     * Maps one region per entry of {@code layout}; only their guest-physical address and size are used
     * (the user address is chosen by mmap). The layout is validated like a {@link MemoryTable}.
     */
    public static GuestMemory allocate(List<MemoryRegion> layout) throws VhostException {
        return map(layout, false);
    }

    /** One shared, memfd-backed region of {@code size} bytes at guest-physical {@code guestPhysAddr}. */
    public static GuestMemory allocateShared(long guestPhysAddr, long size) throws VhostException {
        return map(List.of(new MemoryRegion(guestPhysAddr, size, 0)), true);
    }

    private static GuestMemory map(List<MemoryRegion> layout, boolean shared) throws VhostException {
        if (new MemoryTable(layout).regions().isEmpty()) { // overlap and count checks
            throw new IllegalArgumentException("guest memory of no region");
        }
        Arena arena = Arena.ofShared();
        List<Region> regions = new ArrayList<>();
        try {
            for (MemoryRegion r : layout) {
                long size = r.size();
                if ((size & 4095) != 0) {
                    throw new IllegalArgumentException("region size 0x" + Long.toHexString(size)
                            + " is not a multiple of 4 KiB");
                }
                long addr = shared ? mapMemfd(arena, size) : Errors.check(Sys.mmap(0, size, PROT_READ() | PROT_WRITE(),
                        MAP_PRIVATE() | MAP_ANONYMOUS(), -1, 0), "mmap", "guest memory");
                MemorySegment seg = MemorySegment.ofAddress(addr).reinterpret(size, arena,
                        s -> Sys.munmap(addr, size));
                regions.add(new Region(r.guestPhysAddr(), seg));
            }
        } catch (VhostException | RuntimeException e) {
            arena.close();
            throw e;
        }
        return new GuestMemory(arena, regions);
    }

    /** A new memfd of {@code size} bytes, mapped shared; the descriptor is closed again (the mapping keeps the file). */
    private static long mapMemfd(Arena arena, long size) throws VhostException {
        int fd = Errors.check(Sys.memfdCreate(arena.allocateFrom("vhost4j-guest"), MFD_CLOEXEC()), "memfd_create",
                "guest memory");
        try {
            Errors.check(Sys.ftruncate(fd, size), "ftruncate", "guest memory");
            return Errors.check(Sys.mmap(0, size, PROT_READ() | PROT_WRITE(), MAP_SHARED(), fd, 0), "mmap",
                    "guest memory");
        } finally {
            Sys.close(fd);
        }
    }

    /** The regions, in the order given. */
    public List<Region> regions() {
        return regions;
    }

    /** The table to give {@code VHOST_SET_MEM_TABLE}. */
    public MemoryTable memoryTable() {
        checkOpen();
        return new MemoryTable(regions.stream().map(Region::toMemoryRegion).toList());
    }

    private Region regionOf(long guestPhysAddr, long size) {
        checkOpen();
        for (Region r : regions) {
            long off = guestPhysAddr - r.guestPhysAddr();
            if (Long.compareUnsigned(off, r.size()) < 0 && size <= r.size() - off) {
                return r;
            }
        }
        throw new IllegalArgumentException("guest range 0x" + Long.toHexString(guestPhysAddr) + " + " + size
                + " is not inside guest memory");
    }

    /** The bytes at guest-physical {@code [guestPhysAddr, guestPhysAddr + size)}, which must lie in one region. */
    public MemorySegment slice(long guestPhysAddr, long size) {
        Region r = regionOf(guestPhysAddr, size);
        return r.segment().asSlice(guestPhysAddr - r.guestPhysAddr(), size);
    }

    /** The user (this process's virtual) address of guest-physical {@code guestPhysAddr}. */
    public long userAddress(long guestPhysAddr) {
        Region r = regionOf(guestPhysAddr, 1);
        return r.segment().address() + (guestPhysAddr - r.guestPhysAddr());
    }

    /** The guest-physical address of user address {@code userAddr}. */
    public long guestAddress(long userAddr) {
        checkOpen();
        for (Region r : regions) {
            long off = userAddr - r.segment().address();
            if (Long.compareUnsigned(off, r.size()) < 0) {
                return r.guestPhysAddr() + off;
            }
        }
        throw new IllegalArgumentException("user address 0x" + Long.toHexString(userAddr)
                + " is not inside guest memory");
    }

    private void checkOpen() {
        if (!arena.scope().isAlive()) {
            throw new IllegalStateException("guest memory is closed");
        }
    }

    /** Unmaps every region; closing twice is harmless. */
    @Override
    public synchronized void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }
}
