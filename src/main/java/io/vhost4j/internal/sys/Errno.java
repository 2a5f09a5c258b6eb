package io.vhost4j.internal.sys;

import io.vhost4j.VhostException;

import java.util.Map;

import static io.vhost4j.internal.gen.VhostH.*;

/** Maps errno values to their names and hints, and turns a failed syscall result into an exception. */
public final class Errno {
    private Errno() {}

    private static final Map<Integer, String> NAMES = Map.ofEntries(
            Map.entry(EPERM(), "EPERM"), Map.entry(ENOENT(), "ENOENT"), Map.entry(ESRCH(), "ESRCH"),
            Map.entry(EINTR(), "EINTR"), Map.entry(EIO(), "EIO"), Map.entry(ENXIO(), "ENXIO"),
            Map.entry(E2BIG(), "E2BIG"), Map.entry(EBADF(), "EBADF"), Map.entry(EAGAIN(), "EAGAIN"),
            Map.entry(ENOMEM(), "ENOMEM"), Map.entry(EACCES(), "EACCES"), Map.entry(EFAULT(), "EFAULT"),
            Map.entry(EBUSY(), "EBUSY"), Map.entry(EEXIST(), "EEXIST"), Map.entry(ENODEV(), "ENODEV"),
            Map.entry(ENOTDIR(), "ENOTDIR"), Map.entry(EISDIR(), "EISDIR"), Map.entry(EINVAL(), "EINVAL"),
            Map.entry(ENFILE(), "ENFILE"), Map.entry(EMFILE(), "EMFILE"), Map.entry(ENOTTY(), "ENOTTY"),
            Map.entry(ENOSPC(), "ENOSPC"), Map.entry(EPIPE(), "EPIPE"), Map.entry(ERANGE(), "ERANGE"),
            Map.entry(ENOSYS(), "ENOSYS"), Map.entry(ENAMETOOLONG(), "ENAMETOOLONG"),
            Map.entry(EOPNOTSUPP(), "EOPNOTSUPP"), Map.entry(EBADFD(), "EBADFD"), Map.entry(ENOBUFS(), "ENOBUFS"),
            Map.entry(EAFNOSUPPORT(), "EAFNOSUPPORT"), Map.entry(EPROTONOSUPPORT(), "EPROTONOSUPPORT"),
            Map.entry(ENETDOWN(), "ENETDOWN"), Map.entry(EADDRINUSE(), "EADDRINUSE"),
            Map.entry(EADDRNOTAVAIL(), "EADDRNOTAVAIL"), Map.entry(EOVERFLOW(), "EOVERFLOW"),
            Map.entry(ETIMEDOUT(), "ETIMEDOUT"), Map.entry(ENOTCONN(), "ENOTCONN"), Map.entry(ENOTSOCK(), "ENOTSOCK"),
            Map.entry(EMSGSIZE(), "EMSGSIZE"), Map.entry(ENOTEMPTY(), "ENOTEMPTY"), Map.entry(EROFS(), "EROFS"),
            Map.entry(ENOLINK(), "ENOLINK"), Map.entry(ENOPROTOOPT(), "ENOPROTOOPT"), Map.entry(EDOM(), "EDOM"),
            Map.entry(ENOEXEC(), "ENOEXEC"), Map.entry(ECHILD(), "ECHILD"), Map.entry(ENOTBLK(), "ENOTBLK"),
            Map.entry(EXDEV(), "EXDEV"), Map.entry(ETXTBSY(), "ETXTBSY"), Map.entry(EFBIG(), "EFBIG"),
            Map.entry(ESPIPE(), "ESPIPE"), Map.entry(EMLINK(), "EMLINK"), Map.entry(EDEADLK(), "EDEADLK"),
            Map.entry(ENODATA(), "ENODATA"), Map.entry(EPROTO(), "EPROTO"), Map.entry(ECANCELED(), "ECANCELED"),
            Map.entry(EILSEQ(), "EILSEQ"), Map.entry(ENOTUNIQ(), "ENOTUNIQ"), Map.entry(EHOSTDOWN(), "EHOSTDOWN"));

    /** The symbolic name of {@code errno}, e.g. {@code "EFAULT"}, or {@code "errno 1234"} if unknown. */
    public static String name(int errno) {
        String n = NAMES.get(errno);
        return n != null ? n : "errno " + errno;
    }

    /** The C library's description of {@code errno}, e.g. "Bad address". */
    public static String describe(int errno) {
        return Sys.strerror(errno);
    }

    /** A short remedy for well-known failures, or {@code null}. */
    public static String hint(int errno, String operation, String device) {
        boolean vhost = device != null && device.startsWith("/dev/vhost-");
        if (errno == ENOENT() && vhost && operation.equals("open")) {
            String module = device.startsWith("/dev/vhost-vsock") ? "vhost_vsock"
                    : device.startsWith("/dev/vhost-vdpa") ? "vhost_vdpa" : "vhost_net";
            return "the " + module + " module is not loaded (modprobe " + module + "), or this host cannot have it:"
                    + " run inside the project's kernel guest (ci/vm-run -- COMMAND)";
        }
        if (errno == ENOENT() && "/dev/net/tun".equals(device)) {
            return "the tun module is not loaded (modprobe tun)";
        }
        if (errno == EACCES() || errno == EPERM()) {
            return "needs root, or read/write access to " + device + " (and CAP_NET_ADMIN for a tap)";
        }
        if (errno == EBUSY() && vhost && operation.equals("VHOST_SET_OWNER")) {
            return "the device already has an owner (VHOST_RESET_OWNER first)";
        }
        return null;
    }

    /** Returns {@code rc} unchanged when it is not negative, else throws the mapped exception. */
    public static long check(long rc, String operation, String device) throws VhostException {
        if (rc < 0) {
            throw failure((int) -rc, operation, device);
        }
        return rc;
    }

    /** {@link #check(long, String, String)} for int results. */
    public static int check(int rc, String operation, String device) throws VhostException {
        if (rc < 0) {
            throw failure(-rc, operation, device);
        }
        return rc;
    }

    /** The exception for a syscall that failed with {@code errno}. */
    public static VhostException failure(int errno, String operation, String device) {
        return new VhostException(errno, name(errno), describe(errno), operation, device,
                hint(errno, operation, device));
    }
}
