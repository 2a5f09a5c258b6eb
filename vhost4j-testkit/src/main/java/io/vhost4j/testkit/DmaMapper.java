package io.vhost4j.testkit;

import io.vhost4j.Access;
import io.vhost4j.VhostException;

/**
 * A guest's streaming DMA API ({@code dma_map_single} / {@code dma_unmap_single}): before a buffer is posted the
 * driver maps it and puts the returned device address in the descriptor; after the device used it, the driver
 * unmaps it. {@link VirtualIommu} is the test kit's model of a vIOMMU behind it.
 */
public interface DmaMapper {
    /**
     * Maps {@code size} bytes of guest-physical memory at {@code gpa} for the device to access as {@code access}.
     *
     * @return the address the device is given (an IOVA)
     * @throws IllegalStateException if the IOVA space is exhausted
     */
    long map(long gpa, int size, Access access) throws VhostException;

    /** Unmaps what {@link #map} returned {@code deviceAddr} for ({@code size} as given to it). */
    void unmap(long deviceAddr, int size) throws VhostException;
}
