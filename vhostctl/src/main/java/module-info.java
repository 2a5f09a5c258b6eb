/**
 * {@code vhostctl}, the privileged CLI: probe vhost devices, run the end-to-end selftest and the benchmarks.
 *
 * <p>{@link io.vhost4j.cli.Vhostctl#run} runs it in-process.
 */
module io.vhost4j.cli {
    requires io.vhost4j;
    requires io.vhost4j.testkit;
    requires info.picocli;
    requires jdk.management;
    requires jdk.jfr;

    exports io.vhost4j.cli;
    opens io.vhost4j.cli to info.picocli;
}
