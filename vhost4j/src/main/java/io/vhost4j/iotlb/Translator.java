package io.vhost4j.iotlb;

import io.vhost4j.Access;

/**
 * The VMM's vIOMMU model: translates an IOVA the device missed into a guest-physical range. Called on the
 * manager's thread for every miss but duplicates (a miss the kernel raised again for one of the manager's newest
 * mappings is answered with that mapping); it must not block on other threads that call into the manager, and
 * should not allocate (the manager itself allocates nothing per miss).
 */
@FunctionalInterface
public interface Translator {
    /**
     * Translates {@code iova}, which the device wants to access as {@code access} (a hint only: the
     * permission written to the device is the one filled in here, never the MISS's).
     *
     * @return {@code true} with {@code out} filled in ({@link Translation#set}), or {@code false} if the
     *         vIOMMU has no mapping for {@code iova} (reported as a fault)
     */
    boolean translate(long iova, Access access, Translation out) throws Exception;
}
