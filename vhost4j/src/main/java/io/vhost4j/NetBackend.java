package io.vhost4j;

/**
 * What vhost-net can use as a queue's backend ({@code VHOST_NET_SET_BACKEND}): a tap or macvtap queue
 * ({@link Tap}), or a raw {@code AF_PACKET} socket bound to an interface ({@link PacketBackend}).
 */
public sealed interface NetBackend permits Tap, PacketBackend {
    /** Whether the backend was closed. */
    boolean isClosed();
}
