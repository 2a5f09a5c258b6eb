package io.vhost4j;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The guest memory layout given to {@code VHOST_SET_MEM_TABLE}: up to {@link #MAX_REGIONS} regions whose
 * guest-physical ranges do not overlap. An empty table is valid (with the device IOTLB on, vhost still needs
 * one to have been set).
 *
 * @param regions the regions, in the order given
 */
public record MemoryTable(List<MemoryRegion> regions) {

    /** The kernel's default limit ({@code vhost.max_mem_regions}); more regions fail with E2BIG. */
    public static final int MAX_REGIONS = 64;

    /** Rejects more than {@link #MAX_REGIONS} regions and overlapping guest-physical ranges. */
    public MemoryTable {
        java.util.Objects.requireNonNull(regions, "regions");
        int index = 0;
        for (MemoryRegion r : regions) { // not contains(null): List.of's lists throw on it
            if (r == null) {
                throw new NullPointerException("memory region " + index + " is null");
            }
            index++;
        }
        regions = List.copyOf(regions);
        if (regions.size() > MAX_REGIONS) {
            throw new IllegalArgumentException("a memory table holds at most " + MAX_REGIONS + " regions, got "
                    + regions.size());
        }
        List<MemoryRegion> sorted = new ArrayList<>(regions);
        sorted.sort(Comparator.comparing(MemoryRegion::guestPhysAddr, Long::compareUnsigned));
        for (int i = 1; i < sorted.size(); i++) {
            if (sorted.get(i - 1).overlaps(sorted.get(i))) {
                throw new IllegalArgumentException("memory regions overlap: " + sorted.get(i - 1) + " and "
                        + sorted.get(i));
            }
        }
    }

    /** A table of the given regions. */
    public static MemoryTable of(MemoryRegion... regions) {
        return new MemoryTable(List.of(regions));
    }

    /** A table with no regions. */
    public static MemoryTable empty() {
        return new MemoryTable(List.of());
    }
}
