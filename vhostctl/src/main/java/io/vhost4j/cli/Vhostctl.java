package io.vhost4j.cli;

import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;

/** {@code vhostctl}: probe vhost devices, run the end-to-end selftest, run the benchmarks. */
@Command(name = "vhostctl", mixinStandardHelpOptions = true, versionProvider = Vhostctl.Version.class,
        description = "Probe and exercise the Linux vhost kernel API (vhost-net, vhost-vsock, device IOTLB).",
        subcommands = {ProbeCommand.class, SelftestCommand.class, BenchCommand.class, PassFdsCommand.class,
                AutoComplete.GenerateCompletion.class},
        footer = {"", ExitCodes.HELP})
public final class Vhostctl {
    private Vhostctl() {}

    /** {@code vhostctl --version}: the module's version, as the build recorded it in the jar. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Vhostctl.class.getModule().getDescriptor() == null ? null
                    : Vhostctl.class.getModule().getDescriptor().rawVersion().orElse(null);
            return new String[] {"vhostctl " + (v == null ? "(unknown version)" : v) + " (vhost4j, Java "
                    + Runtime.version() + ")"};
        }
    }

    /** Runs vhostctl and exits with its exit code. */
    public static void main(String[] args) {
        System.exit(run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
    }

    /** Runs vhostctl with the given streams; returns the exit code (for tests and embedding). */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cl = new CommandLine(new Vhostctl());
        cl.setOut(out);
        cl.setErr(err);
        cl.setExitCodeExceptionMapper(ExitCodes::of);
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setExecutionExceptionHandler((e, line, parsed) -> {
            line.getErr().println("vhostctl: " + ExitCodes.remedy(e));
            return ExitCodes.of(e);
        });
        cl.getSubcommands().get("generate-completion").getCommandSpec().usageMessage().hidden(true);
        int code = cl.execute(args);
        out.flush();
        err.flush();
        return code;
    }
}
