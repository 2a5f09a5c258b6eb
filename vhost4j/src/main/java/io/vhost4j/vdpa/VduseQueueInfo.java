package io.vhost4j.vdpa;

import io.vhost4j.PackedVringBase;

/**
 * A queue as the driver set it up ({@code VDUSE_VQ_GET_INFO}); addresses are IOVAs.
 *
 * @param index       the queue
 * @param size        its size (0 until set)
 * @param descAddr    the descriptor table
 * @param driverAddr  the available ring (driver area)
 * @param deviceAddr  the used ring (device area)
 * @param availIndex  the next available index the device should read (from {@code VHOST_SET_VRING_BASE}); of a
 *                    packed queue, the position part of {@code packed}'s available side
 * @param packed      where a packed queue resumes, available and used side (RING_PACKED negotiated), else
 *                    {@code null}
 * @param ready       whether the driver enabled it
 */
public record VduseQueueInfo(int index, int size, long descAddr, long driverAddr, long deviceAddr, int availIndex,
                             PackedVringBase packed, boolean ready) {}
