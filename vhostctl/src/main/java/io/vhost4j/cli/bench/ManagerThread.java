package io.vhost4j.cli.bench;

/** The loop thread {@link io.vhost4j.iotlb.IotlbManager#start()} starts, found by its name. */
final class ManagerThread {
    private ManagerThread() {}

    /** Its name. */
    static final String NAME = "vhost4j-iotlb";

    /** The started manager's thread: the benchmarks run one manager at a time, so there is one of this name. */
    static Thread find() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals(NAME)).findFirst()
                .orElseThrow(() -> new IllegalStateException("no " + NAME + " thread: no manager was started"));
    }
}
