package io.vhost4j.cli;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/** vhostctl's usage, exit codes and messages that need no device (the kernel suite runs the rest). */
class VhostctlTest {
    record Result(int code, String out, String err) {}

    static Result run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = Vhostctl.run(new PrintWriter(out), new PrintWriter(err), args);
        return new Result(code, out.toString(), err.toString());
    }

    @Test
    void helpVersionAndUsageErrors() {
        Result help = run("--help");
        assertEquals(0, help.code());
        assertTrue(help.out().contains("selftest") && help.out().contains("Exit codes:"), help.out());
        assertEquals(0, run("--version").code());
        assertTrue(run("--version").out().startsWith("vhostctl "), run("--version").out());
        assertEquals(ExitCodes.USAGE, run("bogus").code());
        assertEquals(ExitCodes.USAGE, run("selftest", "--frames", "x").code());
        assertEquals(ExitCodes.USAGE, run("selftest", "--frames", "0").code());
        assertEquals(ExitCodes.USAGE, run("bench", "--only", "nothing").code());
        assertEquals(ExitCodes.USAGE, run("bench", "--rounds", "0").code());
        assertEquals(ExitCodes.USAGE, run("pass-fds").code()); // --to is required
        assertEquals(ExitCodes.USAGE, run("pass-fds", "--to", "/tmp/x.sock", "--pairs", "0").code());
        assertEquals(ExitCodes.USAGE, run("pass-fds", "--to", "/tmp/x.sock", "--timeout", "0").code());
        assertEquals(ExitCodes.USAGE, run("selftest", "--fds-from", "/tmp/x.sock", "--fds-timeout", "-3").code());
        assertEquals(ExitCodes.USAGE, run("bench", "--devices", "0").code());
        Result completion = run("generate-completion");
        assertEquals(0, completion.code());
        assertTrue(completion.out().contains("complete") && completion.out().contains("vhostctl"));
    }

    @Test
    void withoutVhostNetTheCommandsSaySoAndExit3() {
        assumeFalse(Files.exists(Path.of("/dev/vhost-net")), "this host has /dev/vhost-net");
        Result r = run("selftest");
        assertEquals(ExitCodes.NO_DEVICE, r.code());
        assertTrue(r.err().contains("the vhost_net module is not loaded") && r.err().contains("ci/vm-run"), r.err());
        assertTrue(r.err().indexOf("ci/vm-run") > r.err().indexOf("module is not loaded"), "the CLI adds it: " + r.err());
        Result p = run("probe", "--json");
        assertEquals(ExitCodes.NO_DEVICE, p.code());
        assertTrue(p.out().contains("\"path\": \"/dev/vhost-net\"") && p.out().contains("\"exists\": false"), p.out());
    }

    @Test
    void aFailureWithJsonIsJsonOnStdoutToo(@org.junit.jupiter.api.io.TempDir Path dir) {
        Result r = run("selftest", "--json", "--fds-from", dir.resolve("s").toString(), "--fds-timeout", "1");
        assertEquals(ExitCodes.ERROR, r.code(), r.err());
        assertTrue(r.err().contains("ETIMEDOUT") && r.err().contains("vhostctl pass-fds --to " + dir.resolve("s")),
                "the error names the helper to run: " + r.err());
        assertTrue(r.out().startsWith("{") && r.out().contains("\"result\": \"error\"")
                && r.out().contains("\"exit_code\": 5") && r.out().contains("ETIMEDOUT"), r.out());
        Result text = run("selftest", "--fds-from", dir.resolve("t").toString(), "--fds-timeout", "1");
        assertEquals("", text.out(), "without --json nothing goes to stdout");
    }

    @Test
    void aUsageErrorWithJsonIsJsonOnStdoutToo() {
        // Found by the option checks of a command (bench --pin) and by picocli's parser (an unknown option) alike.
        Result r = run("bench", "--pin", "0,1", "--json");
        assertEquals(ExitCodes.USAGE, r.code(), r.err());
        assertTrue(r.err().contains("--pin: expected SERVER,DRIVER,WORKER (three CPU numbers), got '0,1'")
                && r.err().contains("Usage: vhostctl bench"), r.err());
        assertTrue(r.out().startsWith("{") && r.out().contains("\"result\": \"error\"")
                && r.out().contains("\"exit_code\": 2")
                && r.out().contains("\"error\": \"--pin: expected SERVER,DRIVER,WORKER"), r.out());
        Result unknown = run("probe", "--json", "--no-such-option");
        assertEquals(ExitCodes.USAGE, unknown.code(), unknown.err());
        assertTrue(unknown.out().contains("\"exit_code\": 2") && unknown.out().contains("--no-such-option"),
                unknown.out());
        Result text = run("bench", "--pin", "0,1");
        assertEquals(ExitCodes.USAGE, text.code());
        assertEquals("", text.out(), "without --json nothing goes to stdout");
        assertTrue(text.err().contains("--pin: expected"), text.err());
    }

    @Test
    void jsonEscapes() {
        assertEquals("{\n  \"a\": \"q\\\"\\n\"\n}", Json.write(java.util.Map.of("a", "q\"\n")));
        assertEquals("[\n  1,\n  true,\n  null\n]", Json.write(java.util.Arrays.asList(1, true, null)));
    }
}
