package io.vhost4j.iotlb;

/**
 * Counters of one managed device, as one consistent snapshot: every miss counted here is also counted in
 * {@code updates} or in {@code faults}.
 *
 * @param misses        MISS messages read and dealt with (answered, or refused as a fault)
 * @param duplicates    misses for an address among the manager's 16 newest mappings (normal: the kernel does
 *                      not de-duplicate misses, and it evicts), answered again with that mapping, without the
 *                      translator
 * @param updates       UPDATE messages written (misses answered, plus prefaults, retries and prefetches)
 * @param prefetches    UPDATE messages written ahead of misses ({@link MappingPolicy#prefetchEntries()})
 * @param invalidations INVALIDATE messages written
 * @param faults        misses not answered
 * @param staleMisses   of those, the {@link IotlbFault.Reason#STALE_MISS} ones (duplicates for a mapping the guest
 *                      removed since; nothing waits for them)
 * @param mapped        mappings the manager believes the device holds
 * @param latency       time from reading a MISS to the UPDATE written
 */
public record DeviceStats(long misses, long duplicates, long updates, long prefetches, long invalidations,
                          long faults, long staleMisses, int mapped,
                          LatencyHistogram.Snapshot latency) {
}
