package io.vhost4j.cli;

import io.vhost4j.DeviceUnavailableException;
import io.vhost4j.PermissionDeniedException;

/** vhostctl's exit codes, and the mapping of failures to them with a one- or two-line remedy. */
final class ExitCodes {
    private ExitCodes() {}

    /** Every check passed. */
    static final int OK = 0;
    /** A check failed (a frame lost or corrupted, a miss unanswered, a fault). */
    static final int CHECK_FAILED = 1;
    /** Bad command line. */
    static final int USAGE = 2;
    /** No vhost device here (module not loaded, or a host that cannot have it). */
    static final int NO_DEVICE = 3;
    /** Permission denied on a device or the tap. */
    static final int PERMISSION = 4;
    /** Any other error. */
    static final int ERROR = 5;

    static final String HELP = """
            Exit codes:
              0  every check passed
              1  a check failed (frames lost or corrupted, misses unanswered)
              2  usage error
              3  no vhost device (vhost_net not loaded, or a host that cannot have it)
              4  permission denied (needs root, or device access and CAP_NET_ADMIN)
              5  any other error""";

    /** The exit code for an exception, and a message with the fix printed for it. */
    static int of(Throwable e) {
        return switch (e) {
            case picocli.CommandLine.ParameterException p -> USAGE;
            case DeviceUnavailableException d -> NO_DEVICE;
            case PermissionDeniedException p -> PERMISSION;
            default -> ERROR;
        };
    }

    /**
     * The message printed for a failure: the exception's own (which carries the errno, device and fix), plus,
     * for a missing vhost device, where this project's throwaway kernel guest helps, and for descriptors that never
     * came ({@code selftest --fds-from}), what was to send them.
     */
    static String remedy(Throwable e) {
        String message = e.getMessage() != null ? e.getMessage() : e.toString();
        if (e instanceof DeviceUnavailableException d && d.device().startsWith("/dev/vhost-")) {
            message += "\n  (no such kernel here? vhost4j's source tree runs any command in a throwaway guest kernel:"
                    + " ci/vm-run -- COMMAND)";
        } else if (e instanceof io.vhost4j.VhostException v && "accept".equals(v.operation())
                && v.errno() == io.vhost4j.Errno.ETIMEDOUT) {
            message += "\n  (no helper sent descriptors in time: run `vhostctl pass-fds --to " + v.device()
                    + " --pairs 2 --packet-socket` as root while selftest waits, or give it longer: --fds-timeout)";
        }
        return message;
    }

}
