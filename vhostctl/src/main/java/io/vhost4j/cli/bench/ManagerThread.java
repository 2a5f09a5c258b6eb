package io.vhost4j.cli.bench;

import java.time.Duration;

/**
 * The loop thread {@link io.vhost4j.iotlb.IotlbManager#start()} starts, found by its name, and how long the polling
 * servers of the benchmarks poll after each miss.
 */
final class ManagerThread {
    private ManagerThread() {}

    /**
     * How long the polling servers (the manager's loop thread, {@link io.vhost4j.iotlb.IotlbManager#start(Duration)};
     * the C loop) poll after each miss before they sleep.
     */
    static final Duration POLL = Duration.ofNanos(100_000);

    /** Its name. */
    static final String NAME = "vhost4j-iotlb";

    /** The started manager's thread: the benchmarks run one manager at a time, so there is one of this name. */
    static Thread find() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals(NAME)).findFirst()
                .orElseThrow(() -> new IllegalStateException("no " + NAME + " thread: no manager was started"));
    }
}
