package io.vhost4j.cli;

import io.vhost4j.FdPassing;
import io.vhost4j.Features;
import io.vhost4j.VhostNet;
import io.vhost4j.VirtioFeature;
import io.vhost4j.testkit.DmaWindow;
import io.vhost4j.testkit.Frames;
import io.vhost4j.testkit.VdpaNetLoopback;
import io.vhost4j.testkit.NetDriver;
import io.vhost4j.testkit.NetLoopback;
import io.vhost4j.iotlb.DeviceStats;
import io.vhost4j.iotlb.IotlbManager;
import io.vhost4j.iotlb.ManagedDevice;
import io.vhost4j.testkit.OffsetTranslator;
import io.vhost4j.testkit.PacketSocket;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * {@code vhostctl selftest}: a tap and vhost-net driven by the library's guest-side queues, frames both ways
 * with the device IOTLB off and on (misses served by the IOTLB manager), and, where VDUSE exists, frames through
 * vhost-vdpa and a Java VDUSE device; every frame checked byte for byte.
 */
@Command(name = "selftest", mixinStandardHelpOptions = true,
        description = "Bring up a tap and vhost-net with the library's guest-side queues and pass frames both ways,"
                + " with the device IOTLB off and on (misses served by the IOTLB manager); where VDUSE exists (Linux"
                + " 6.10+), also through vhost-vdpa and a VDUSE device in this process. Prints a pass/fail"
                + " report per step with frames, misses, updates, faults and timing. Needs root.",
        footer = {"", ExitCodes.HELP})
final class SelftestCommand implements Callable<Integer> {
    /**
     * Ways to break the selftest on purpose, to prove that it fails (tests only): a corrupted copy of the first
     * TX frame really goes through the kernel ahead of it; a page of the vIOMMU really has no mapping.
     */
    enum Break { NONE, CORRUPT_FRAME, UNANSWERED_MISS }

    @Option(names = "--json", description = "Print JSON instead of a table.")
    boolean json;

    @Option(names = "--frames", defaultValue = "1000", description = "Frames per step and direction (default ${DEFAULT-VALUE}).")
    int frames;

    @Option(names = "--fds-from", paramLabel = "SOCKET", description = "Run unprivileged on descriptors a privileged"
            + " helper passes: listen on the unix socket SOCKET and wait for `vhostctl pass-fds --to SOCKET --pairs 2"
            + " --packet-socket` (pair 0 for the steps with the IOTLB off, pair 1 with it on).")
    java.nio.file.Path fdsFrom;

    @Option(names = "--fds-timeout", defaultValue = "60", description = "Seconds to wait for the helper (default ${DEFAULT-VALUE}).")
    int fdsTimeout;

    @Option(names = "--break", hidden = true, defaultValue = "NONE")
    Break breakOnPurpose;

    @Spec
    CommandSpec spec;

    private static final Duration WAIT = Duration.ofSeconds(3);
    private static final int BATCH = 32;

    /** One step's outcome. */
    record Step(String name, boolean pass, long frames, long misses, long updates, long faults, long millis,
                String error) {
        /** A step this machine cannot run, and why: neither passed nor failed. */
        static Step skipped(String name, String why) {
            return new Step(name, true, -1, 0, 0, 0, 0, why);
        }

        boolean isSkipped() {
            return frames < 0;
        }

        String result() {
            return isSkipped() ? "skip" : pass ? "pass" : "FAIL";
        }

        Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("step", name);
            m.put("result", result());
            m.put("frames", frames);
            m.put("misses", misses);
            m.put("updates", updates);
            m.put("faults", faults);
            m.put("millis", millis);
            if (error != null) {
                m.put("error", error);
            }
            return m;
        }
    }

    @FunctionalInterface
    private interface Body {
        long run() throws Exception; // returns frames passed
    }

    @Override
    public Integer call() throws Exception {
        if (frames <= 0) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--frames must be > 0");
        }
        if (fdsTimeout <= 0) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--fds-timeout must be > 0");
        }
        PrintWriter err = spec.commandLine().getErr();
        List<Step> steps = new ArrayList<>();
        try (Loopbacks loops = fdsFrom == null ? new Loopbacks(null) : Loopbacks.received(fdsFrom, fdsTimeout, err)) {
            run(steps, err, loops);
        }
        return report(steps);
    }

    /** Where the loopbacks come from: opened here (root), or made of descriptors a helper passed (unprivileged). */
    private static final class Loopbacks implements AutoCloseable {
        private final FdPassing.Received received;
        private VhostNet first; // vhost-net.0, taken early to read its features

        Loopbacks(FdPassing.Received received) {
            this.received = received;
        }

        static Loopbacks received(java.nio.file.Path socket, int seconds, PrintWriter progress) throws Exception {
            progress.println("selftest: waiting up to " + seconds + " s for descriptors on " + socket + " ...");
            progress.flush();
            return new Loopbacks(FdPassing.receive(socket, Duration.ofSeconds(seconds)));
        }

        /** The features of the device the first loopback will use. */
        Features offered() throws Exception {
            if (received == null) {
                // Opening the device first gives the clear "no vhost_net" / "permission denied" errors and exit codes.
                try (VhostNet net = VhostNet.open()) {
                    return net.getFeatures();
                }
            }
            first = received.vhostNet("vhost-net.0");
            return first.getFeatures();
        }

        /** Loopback {@code pair} (0: IOTLB off, 1: IOTLB on). */
        NetLoopback open(int pair, NetDriver.Config config) throws Exception {
            if (received == null) {
                return NetLoopback.open(config, "vhst%d");
            }
            if (!received.names().contains("packet." + pair) || !received.names().contains("tap." + pair)) {
                throw new IllegalStateException("the helper passed no packet." + pair + " (vhostctl pass-fds --pairs 2"
                        + " --packet-socket), only " + received.names());
            }
            VhostNet net = pair == 0 && first != null ? first : received.vhostNet("vhost-net." + pair);
            return NetLoopback.of(config, net, received.tap("tap." + pair),
                    PacketSocket.adopt(received.take("packet." + pair)));
        }

        @Override
        public void close() {
            if (received != null) {
                received.close();
            }
        }
    }

    private void run(List<Step> steps, PrintWriter err, Loopbacks loops) throws Exception {
        Features offered = loops.offered();
        steps.add(new Step("open /dev/vhost-net, features " + offered, offered.has(VirtioFeature.ACCESS_PLATFORM),
                0, 0, 0, 0, 0, offered.has(VirtioFeature.ACCESS_PLATFORM) ? null : "ACCESS_PLATFORM not offered"));

        try (NetLoopback loop = loops.open(0, NetDriver.Config.defaults()).start()) {
            steps.add(step(err, "TX, IOTLB off", null, () -> {
                if (breakOnPurpose == Break.CORRUPT_FRAME) {
                    MemorySegment bad = loop.frame(0);
                    int last = (int) bad.byteSize() - 1;
                    bad.set(JAVA_BYTE, last, (byte) ~bad.get(JAVA_BYTE, last));
                    loop.driver().transmit(bad, WAIT);
                }
                loop.txRun(0, frames, BATCH, WAIT);
                return frames;
            }));
            steps.add(step(err, "RX, IOTLB off", null, () -> {
                loop.rxRun(0, frames, BATCH, WAIT);
                return frames;
            }));
        }

        NetDriver.Config iova = NetDriver.Config.defaults().withDma(DmaWindow.iova(NetLoopback.IOVA_OFFSET));
        try (IotlbManager manager = IotlbManager.create(null); NetLoopback loop = loops.open(1, iova)) {
            OffsetTranslator translator = loop.offsetTranslator(4096);
            if (breakOnPurpose == Break.UNANSWERED_MISS) {
                long txBuffers = loop.driver().txQueue().descGuestAddr(); // the vIOMMU "loses" the TX descriptors
                translator.override(txBuffers + NetLoopback.IOVA_OFFSET, 4096, null);
            }
            ManagedDevice md = loop.startWithIotlb(manager, translator);
            manager.start();
            steps.add(step(err, "TX, IOTLB on (4 KiB mappings, manager)", md, () -> {
                loop.txRun(0, frames, BATCH, WAIT);
                return frames;
            }));
            steps.add(step(err, "RX, IOTLB on (4 KiB mappings, manager)", md, () -> {
                loop.rxRun(0, frames, BATCH, WAIT);
                return frames;
            }));
        }
        steps.add(vdpaStep(err));
    }

    /**
     * Frames through vhost-vdpa and a VDUSE net device in this process (the test kit's, looping TX to RX), every
     * one checked byte for byte; where VDUSE is missing (Linux before 6.10, or modules not loaded), or when running
     * on passed descriptors (creating a VDUSE device needs CAP_NET_ADMIN), the step is reported as skipped.
     */
    private Step vdpaStep(PrintWriter err) {
        String name = "vDPA: TX->RX through a Java VDUSE device (vhost-vdpa, batched IOTLB)";
        if (fdsFrom != null) {
            return Step.skipped(name, "not on passed descriptors: creating a VDUSE device needs CAP_NET_ADMIN");
        }
        if (!java.nio.file.Files.exists(java.nio.file.Path.of(io.vhost4j.vdpa.VduseControl.PATH))) {
            return Step.skipped(name, "no " + io.vhost4j.vdpa.VduseControl.PATH + ": VDUSE needs Linux 6.10+ and"
                    + " modprobe vduse vhost_vdpa");
        }
        int n = Math.min(frames, 500);
        long[] updates = {0};
        Step s = step(err, name, null, () -> {
            String dev = "vhostctl-" + ProcessHandle.current().pid();
            NetDriver.Config config = new NetDriver.Config(64, false, false, 2048, DmaWindow.PHYSICAL, false, false);
            try (VdpaNetLoopback loop = VdpaNetLoopback.create(dev, 64).start(config, true);
                 java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
                MemorySegment got = arena.allocate(NetDriver.MAX_FRAME);
                for (int i = 0; i < n; i++) {
                    MemorySegment f = Frames.fill(arena.allocate(Frames.sizeOf(i)), i, false);
                    if (!loop.driver().transmit(f, WAIT)) {
                        throw new IllegalStateException("no TX slot for frame " + i);
                    }
                    int len = loop.driver().receive(got, WAIT);
                    if (Frames.check(got, len, false, "vDPA loopback") != i) {
                        throw new IllegalStateException("frame " + i + " did not come back (" + len + " bytes)");
                    }
                    loop.driver().reclaimTx();
                }
                updates[0] = loop.device().iotlbChanges();
            }
            return n;
        });
        return new Step(s.name(), s.pass(), s.frames(), 0, updates[0], 0, s.millis(), s.error());
    }

    private int report(List<Step> steps) {
        boolean pass = steps.stream().allMatch(Step::pass);
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            Map<String, Object> report = new LinkedHashMap<>();
            report.put("result", pass ? "pass" : "FAIL");
            report.put("steps", steps.stream().map(Step::toMap).toList());
            out.println(Json.write(report));
        } else {
            // The step column widens to the longest name: a value (e.g. the feature bits) is never cut.
            int width = steps.stream().mapToInt(s -> s.name().length()).max().orElse(4);
            out.printf("%-" + width + "s %-6s %7s %7s %7s %6s %8s%n", "step", "result", "frames", "misses", "updates",
                    "faults", "time");
            for (Step s : steps) {
                out.printf("%-" + width + "s %-6s %7d %7d %7d %6d %6dms%n", s.name(), s.result(),
                        Math.max(0, s.frames()), s.misses(), s.updates(), s.faults(), s.millis());
                if (s.error() != null) {
                    out.println("    " + s.error());
                }
            }
            out.println(pass ? "selftest passed" : "selftest FAILED");
        }
        return pass ? ExitCodes.OK : ExitCodes.CHECK_FAILED;
    }

    private static Step step(PrintWriter progress, String name, ManagedDevice md, Body body) {
        progress.println("selftest: " + name + " ...");
        progress.flush();
        DeviceStats before = md == null ? null : md.stats();
        long t0 = System.nanoTime();
        long passed = 0;
        String error = null;
        try {
            passed = body.run();
        } catch (Exception e) {
            error = e.getClass().getSimpleName() + ": " + e.getMessage();
        }
        long millis = (System.nanoTime() - t0) / 1_000_000;
        long misses = 0, updates = 0, faults = 0;
        if (md != null) {
            DeviceStats after = md.stats();
            misses = after.misses() - before.misses();
            updates = after.updates() - before.updates();
            faults = after.faults() - before.faults();
            if (error == null && faults > 0) {
                error = faults + " misses went unanswered";
            }
        }
        return new Step(name, error == null, passed, misses, updates, faults, millis, error);
    }
}
