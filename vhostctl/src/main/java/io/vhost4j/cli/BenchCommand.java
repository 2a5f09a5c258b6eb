package io.vhost4j.cli;

import io.vhost4j.cli.bench.CLoop;
import io.vhost4j.cli.bench.DataPathBench;
import io.vhost4j.cli.bench.Figure;
import io.vhost4j.cli.bench.IoctlBench;
import io.vhost4j.cli.bench.MissBench;
import io.vhost4j.cli.bench.Placement;
import io.vhost4j.cli.bench.Progress;
import io.vhost4j.cli.bench.ViommuBench;
import io.vhost4j.cli.bench.VsockBench;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code vhostctl bench}: the options, and the order of the benchmarks in {@link io.vhost4j.cli.bench}; the
 * plain-C side ({@code native/cbench.c}, loaded with {@code --c-library}) is measured in the same run.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmarks: ioctl cost (API, bare FFM downcall, C), TX/RX frames/s (64 and 1500 bytes,"
                + " IOTLB off and on), IOTLB misses served per second and their latency (4 KiB mappings,"
                + " invalidation every 32 frames, 1 and N devices on one manager thread), heap bytes per miss,"
                + " JIT state and profile of the miss path (JFR), and a guest-like vIOMMU workload (strict and lazy"
                + " invalidation; C loop vs Java exact, coalescing, coalescing+prefetch), vsock stream MB/s."
                + " With --c-library (built by ci/bench) the same syscalls in plain C run side by side. Needs root.",
        footer = {"", ExitCodes.HELP})
final class BenchCommand implements Callable<Integer> {
    @Option(names = "--json", description = "Print JSON instead of a table.")
    boolean json;

    @Option(names = "--seconds", defaultValue = "2", description = "Seconds per throughput measurement (default ${DEFAULT-VALUE}).")
    double seconds;

    /** The parts of the benchmark, in the order they run. */
    enum Part { IOCTL, DATAPATH, IOTLB, VIOMMU, DEVICES, VSOCK }

    @Option(names = "--only", split = ",", paramLabel = "PART", description = "Run only these parts (comma-separated:"
            + " ${COMPLETION-CANDIDATES}); all by default.")
    List<Part> only; // null: all

    @Option(names = "--rounds", defaultValue = "5", description = "Alternating Java/C rounds per IOTLB figure, summarised by their median (default ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--devices", defaultValue = "64", description = "Devices for the many-device IOTLB run (default ${DEFAULT-VALUE}).")
    int devices;

    @Option(names = "--pin", paramLabel = "SERVER,DRIVER,WORKER", description = "Pin the threads of every IOTLB and"
            + " vIOMMU round, Java and C alike, to these CPUs: the thread serving the misses, the guest driver's, the"
            + " device's vhost worker (e.g. 0,1,0). Unpinned by default.")
    String pin;

    @Option(names = "--c-library", description = "native/cbench.c built as a shared library (ci/bench builds it).")
    Path cLibrary;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (seconds <= 0) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--seconds must be > 0");
        }
        if (rounds < 1) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--rounds must be >= 1");
        }
        if (devices < 1) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--devices must be >= 1");
        }
        Placement placement;
        try {
            placement = pin == null ? Placement.UNPINNED : Placement.parse(pin);
        } catch (IllegalArgumentException e) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--pin: " + e.getMessage());
        }
        java.util.Set<Part> parts = only == null ? java.util.EnumSet.allOf(Part.class) : java.util.EnumSet.copyOf(only);
        Progress progress = new Progress(spec.commandLine().getErr());
        List<Figure> figures = new ArrayList<>();
        try (CLoop c = cLibrary == null ? null : new CLoop(cLibrary);
             io.vhost4j.cli.bench.Profile compilations = io.vhost4j.cli.bench.Profile.watchCompilations()) {
            if (parts.contains(Part.IOCTL)) {
                progress.say("ioctl(VHOST_GET_FEATURES) cost");
                figures.addAll(IoctlBench.run(c));
            }
            if (parts.contains(Part.DATAPATH)) {
                figures.addAll(new DataPathBench(seconds).run(progress));
            }
            MissBench misses = new MissBench(seconds, rounds, placement);
            if (parts.contains(Part.IOTLB)) {
                figures.addAll(misses.oneDevice(c, progress));
            }
            if (parts.contains(Part.VIOMMU)) {
                figures.addAll(new ViommuBench(seconds, rounds, placement).run(c, progress));
            }
            if (parts.contains(Part.DEVICES)) {
                figures.add(misses.manyDevices(devices, progress));
            }
            if (parts.contains(Part.VSOCK)) {
                figures.addAll(new VsockBench(seconds).run(progress));
            }
        }
        if (json) {
            BenchReport.json(spec.commandLine().getOut(), kernelRelease(), placement, figures);
        } else {
            BenchReport.table(spec.commandLine().getOut(), placement, figures);
        }
        return ExitCodes.OK;
    }

    private static String kernelRelease() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/osrelease")).trim();
        } catch (IOException e) {
            return "unknown";
        }
    }
}
