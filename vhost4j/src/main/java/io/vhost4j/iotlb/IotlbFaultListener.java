package io.vhost4j.iotlb;

/**
 * Receives the misses the manager could not answer (DMA faults), on the thread that served them, and the end
 * of the manager's own loop thread if it ever dies. A {@code RuntimeException} it throws is ignored (the loop goes
 * on). It may call back into the device, e.g. {@link ManagedDevice#unregister()} (the drain then reads no further)
 * or {@link ManagedDevice#retryFaults()} once its vIOMMU has the mapping; mapping again from inside a listener that
 * a mapping's fault called is refused {@value ManagedDevice#MAX_LISTENER_NESTING} listeners deep, so that a
 * listener that retries on every fault ends.
 */
@FunctionalInterface
public interface IotlbFaultListener {
    /** {@code device} missed {@code fault.iova()} and it was not answered (see {@link IotlbFault} for recovery). */
    void onFault(ManagedDevice device, IotlbFault fault);

    /**
     * The loop thread started by {@link IotlbManager#start()} died of {@code cause}: no miss is served any more
     * ({@link IotlbManager#isLoopAlive()} is false). Called on that thread, just before it ends.
     */
    default void onLoopFailure(Throwable cause) {
    }
}
