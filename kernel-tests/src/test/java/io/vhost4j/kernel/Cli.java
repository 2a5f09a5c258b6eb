package io.vhost4j.kernel;

import io.vhost4j.cli.Vhostctl;

import java.io.PrintWriter;
import java.io.StringWriter;

/** Runs vhostctl in this JVM, as {@link Vhostctl#run} documents, and keeps what it printed. */
final class Cli {
    private Cli() {}

    /** vhostctl's documented exit code for "a check failed". */
    static final int CHECK_FAILED = 1;

    /** What one run printed and returned. */
    record Result(int code, String out, String err) {}

    static Result run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = Vhostctl.run(new PrintWriter(out), new PrintWriter(err), args);
        return new Result(code, out.toString(), err.toString());
    }
}
