package io.vhost4j.cli;

import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Map;

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
            int code = ExitCodes.of(e);
            String remedy = ExitCodes.remedy(e);
            line.getErr().println("vhostctl: " + remedy);
            if (wantsJson(parsed)) { // a pipeline reading --json output gets the failure as JSON too
                printFailure(line.getOut(), code, remedy);
            }
            return code;
        });
        cl.setParameterExceptionHandler((e, given) -> { // a usage error: picocli's own report, and JSON as above
            CommandLine line = e.getCommandLine();
            line.getErr().println(e.getMessage());
            if (!CommandLine.UnmatchedArgumentException.printSuggestions(e, line.getErr())) {
                line.usage(line.getErr());
            }
            int code = ExitCodes.of(e);
            if (java.util.Arrays.asList(given).contains("--json")) { // the parse may have stopped before it
                printFailure(line.getOut(), code, e.getMessage());
            }
            return code;
        });
        cl.getSubcommands().get("generate-completion").getCommandSpec().usageMessage().hidden(true);
        int code = cl.execute(args);
        out.flush();
        err.flush();
        return code;
    }

    /** {@code {"result": "error", "exit_code": code, "error": message}}. */
    private static void printFailure(PrintWriter out, int code, String message) {
        Map<String, Object> failure = new LinkedHashMap<>();
        failure.put("result", "error");
        failure.put("exit_code", code);
        failure.put("error", message);
        out.println(Json.write(failure));
    }

    /** Whether the command that ran (the innermost subcommand) was given {@code --json}. */
    private static boolean wantsJson(CommandLine.ParseResult parsed) {
        CommandLine.ParseResult last = parsed;
        while (last.hasSubcommand()) {
            last = last.subcommand();
        }
        return last.hasMatchedOption("--json");
    }
}
