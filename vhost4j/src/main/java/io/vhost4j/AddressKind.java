package io.vhost4j;

/**
 * What the addresses in a {@link VringAddr} are. Mixing these up is a classic vhost bug, so the kind is
 * part of the value and checked against the device's negotiated features.
 */
public enum AddressKind {
    /** Virtual addresses in the VMM's (this process's) address space: the IOTLB is off. */
    USER,
    /** I/O virtual addresses translated by the device IOTLB: {@link VirtioFeature#ACCESS_PLATFORM} is on. */
    IOVA
}
