package io.vhost4j.iotlb;

/**
 * How much a managed device maps when it answers a miss: the translator's one entry ({@link #exact()}, what QEMU
 * does), that entry grown over its neighbours ({@link #coalescing(long)}), and entries ahead of a sequential
 * miss pattern ({@link #withPrefetch(int)}).
 *
 * <p><b>Why coalescing and prefetch are safe.</b> Every byte either writes is a byte the translator maps at
 * that moment, with the translator's own permission, inside the guest memory registered with the device: a
 * coalesced UPDATE is only grown over neighbouring IOVAs that the translator maps contiguously (the next
 * IOVA's user address follows the last one's) with exactly the same permission. When the guest unmaps any
 * page of it, the VMM removes the page from its translator and calls {@link ManagedDevice#invalidate}: the
 * kernel's INVALIDATE drops <em>every</em> entry overlapping the range, so the whole coalesced entry goes, and
 * its other pages are simply missed again and re-translated. A coalesced entry therefore never outlives a
 * guest unmap of any of its pages. The manager orders translation against invalidation (see
 * {@link ManagedDevice#invalidate}), so an UPDATE built from a translation that an invalidation overtook is
 * never written after that invalidation.
 *
 * <p><b>Costs.</b> The kernel keeps at most {@code max_iotlb_entries} (2048 by default) entries per device and
 * evicts the oldest: prefetch writes one UPDATE per entry, each can evict one, and the miss that prefetches is
 * answered only after them (so that the device finds them mapped), while coalescing saves entries. Size prefetch
 * to what the guest maps ahead of one notification, e.g. one batch of buffers: in the benchmark's guest-like model
 * (batches of 32), 32 entries took two misses per batch where 8 took five. An invalidation of one page costs the
 * device the whole coalesced entry, so the bound ({@link #coalesceBytes()}) trades misses against re-misses after
 * invalidations.
 *
 * @param coalesceBytes   at most this many bytes per UPDATE when neighbours are joined (0: no coalescing; an
 *                        entry larger than this from the translator is still mapped whole)
 * @param prefetchEntries translator entries mapped ahead when a miss continues the previous one's range in
 *                        either direction (0: none)
 */
public record MappingPolicy(long coalesceBytes, int prefetchEntries) {
    /** The default bound of {@link #coalescing()}: 2 MiB, one huge page. */
    public static final long DEFAULT_COALESCE_BYTES = 2L << 20;
    /** The largest {@link #prefetchEntries()}: a sixteenth of the kernel's default IOTLB size. */
    public static final int MAX_PREFETCH = 128;

    /** Checks the bounds. */
    public MappingPolicy {
        if (coalesceBytes < 0) {
            throw new IllegalArgumentException("coalesceBytes " + coalesceBytes + " < 0");
        }
        if (prefetchEntries < 0 || prefetchEntries > MAX_PREFETCH) {
            throw new IllegalArgumentException("prefetchEntries " + prefetchEntries + " not in 0.." + MAX_PREFETCH);
        }
    }

    /** One translator entry per miss, nothing more. */
    public static MappingPolicy exact() {
        return new MappingPolicy(0, 0);
    }

    /** Coalescing up to {@link #DEFAULT_COALESCE_BYTES}. */
    public static MappingPolicy coalescing() {
        return coalescing(DEFAULT_COALESCE_BYTES);
    }

    /** Coalescing: an UPDATE grows over contiguous neighbours of the missed entry, up to {@code maxBytes}. */
    public static MappingPolicy coalescing(long maxBytes) {
        if (maxBytes <= 0) {
            throw new IllegalArgumentException("maxBytes " + maxBytes + " <= 0");
        }
        return new MappingPolicy(maxBytes, 0);
    }

    /** This policy, also mapping {@code entries} translator entries ahead of a sequential miss pattern. */
    public MappingPolicy withPrefetch(int entries) {
        return new MappingPolicy(coalesceBytes, entries);
    }

    /** Whether this is {@link #exact()}. */
    public boolean isExact() {
        return coalesceBytes == 0 && prefetchEntries == 0;
    }

    @Override
    public String toString() {
        if (isExact()) {
            return "exact";
        }
        String s = coalesceBytes > 0 ? "coalescing(" + coalesceBytes + ")" : "exact";
        return prefetchEntries > 0 ? s + "+prefetch(" + prefetchEntries + ")" : s;
    }
}
