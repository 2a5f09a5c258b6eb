package io.vhost4j.kernel;

import java.time.Duration;

/** Values the kernel tests share. */
final class TestValues {
    private TestValues() {}

    /** Frames sent before their arrival is checked. */
    static final int BATCH = 32;
    /** How long a frame, a used buffer or a miss may take in the slow (TCG) guest. */
    static final Duration WAIT = Duration.ofSeconds(10);
    /** One page: the IOTLB granule of the fine-grained tests. */
    static final long PAGE = 4096;
}
