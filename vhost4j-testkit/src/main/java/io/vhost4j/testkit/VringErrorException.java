package io.vhost4j.testkit;

import java.io.IOException;

/**
 * vhost signalled a queue's error eventfd ({@code VHOST_SET_VRING_ERR}): it could not access a ring or a
 * buffer (an address outside the memory table, or an IOTLB translation missing or without permission).
 */
public final class VringErrorException extends IOException {
    private static final long serialVersionUID = 1L;
    private final int queue;

    /** An error reported on virtqueue {@code queue} of {@code device}. */
    public VringErrorException(String device, int queue, long count) {
        super(device + " signalled " + count + " error(s) on virtqueue " + queue
                + " (ring or buffer access failed: address outside guest memory, or IOTLB translation refused)");
        this.queue = queue;
    }

    /** The virtqueue index the error was signalled on. */
    public int queue() {
        return queue;
    }
}
