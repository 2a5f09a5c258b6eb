package io.vhost4j;

/** Byte order of a legacy virtqueue ({@code VHOST_SET_VRING_ENDIAN}); needs CONFIG_VHOST_CROSS_ENDIAN_LEGACY. */
public enum VringEndian {
    /** Little-endian rings. */
    LITTLE,
    /** Big-endian rings. */
    BIG
}
