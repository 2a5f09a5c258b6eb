package io.vhost4j.iotlb;

/** Receives the misses the manager could not answer (DMA faults). Called on the manager's thread. */
@FunctionalInterface
public interface IotlbFaultListener {
    /** {@code device} missed {@code fault.iova()} and it was not answered. */
    void onFault(ManagedDevice device, IotlbFault fault);
}
