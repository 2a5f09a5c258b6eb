package io.vhost4j.cli.bench;

import java.io.PrintWriter;

/** Progress lines on stderr ({@code bench: ...}), so that stdout stays the report. */
public record Progress(PrintWriter err) {
    /** Prints one progress line. */
    public void say(String s) {
        err.println("bench: " + s);
        err.flush();
    }
}
