package io.vhost4j;

import io.vhost4j.internal.gen.VhostH;

import java.util.HashMap;
import java.util.Map;

/**
 * Linux errno values, for code that switches on why a kernel call failed ({@link VhostException#errno()}).
 * Values the kernel may return that are not listed here are {@link #OTHER}; {@link VhostException#errnoValue()}
 * always has the number.
 */
public enum Errno {
    EPERM(VhostH.EPERM()),
    ENOENT(VhostH.ENOENT()),
    ESRCH(VhostH.ESRCH()),
    EINTR(VhostH.EINTR()),
    EIO(VhostH.EIO()),
    ENXIO(VhostH.ENXIO()),
    E2BIG(VhostH.E2BIG()),
    ENOEXEC(VhostH.ENOEXEC()),
    EBADF(VhostH.EBADF()),
    ECHILD(VhostH.ECHILD()),
    EAGAIN(VhostH.EAGAIN()),
    ENOMEM(VhostH.ENOMEM()),
    EACCES(VhostH.EACCES()),
    EFAULT(VhostH.EFAULT()),
    ENOTBLK(VhostH.ENOTBLK()),
    EBUSY(VhostH.EBUSY()),
    EEXIST(VhostH.EEXIST()),
    EXDEV(VhostH.EXDEV()),
    ENODEV(VhostH.ENODEV()),
    ENOTDIR(VhostH.ENOTDIR()),
    EISDIR(VhostH.EISDIR()),
    EINVAL(VhostH.EINVAL()),
    ENFILE(VhostH.ENFILE()),
    EMFILE(VhostH.EMFILE()),
    ENOTTY(VhostH.ENOTTY()),
    ETXTBSY(VhostH.ETXTBSY()),
    EFBIG(VhostH.EFBIG()),
    ENOSPC(VhostH.ENOSPC()),
    ESPIPE(VhostH.ESPIPE()),
    EROFS(VhostH.EROFS()),
    EMLINK(VhostH.EMLINK()),
    EPIPE(VhostH.EPIPE()),
    EDOM(VhostH.EDOM()),
    ERANGE(VhostH.ERANGE()),
    EDEADLK(VhostH.EDEADLK()),
    ENAMETOOLONG(VhostH.ENAMETOOLONG()),
    ENOSYS(VhostH.ENOSYS()),
    ENOTEMPTY(VhostH.ENOTEMPTY()),
    ENODATA(VhostH.ENODATA()),
    ENOLINK(VhostH.ENOLINK()),
    EPROTO(VhostH.EPROTO()),
    EOVERFLOW(VhostH.EOVERFLOW()),
    ENOTUNIQ(VhostH.ENOTUNIQ()),
    EBADFD(VhostH.EBADFD()),
    EILSEQ(VhostH.EILSEQ()),
    ENOTSOCK(VhostH.ENOTSOCK()),
    EMSGSIZE(VhostH.EMSGSIZE()),
    ENOPROTOOPT(VhostH.ENOPROTOOPT()),
    EPROTONOSUPPORT(VhostH.EPROTONOSUPPORT()),
    EOPNOTSUPP(VhostH.EOPNOTSUPP()),
    EAFNOSUPPORT(VhostH.EAFNOSUPPORT()),
    EADDRINUSE(VhostH.EADDRINUSE()),
    EADDRNOTAVAIL(VhostH.EADDRNOTAVAIL()),
    ENETDOWN(VhostH.ENETDOWN()),
    ENOBUFS(VhostH.ENOBUFS()),
    ENOTCONN(VhostH.ENOTCONN()),
    ECONNRESET(VhostH.ECONNRESET()),
    ECONNREFUSED(VhostH.ECONNREFUSED()),
    ETIMEDOUT(VhostH.ETIMEDOUT()),
    EHOSTDOWN(VhostH.EHOSTDOWN()),
    ECANCELED(VhostH.ECANCELED()),
    /** An errno value this enum does not list. */
    OTHER(-1);

    private static final Map<Integer, Errno> BY_VALUE = new HashMap<>();
    static {
        for (Errno e : values()) {
            if (e != OTHER) {
                BY_VALUE.put(e.value, e);
            }
        }
    }

    private final int value;

    Errno(int value) {
        this.value = value;
    }

    /** The errno number, e.g. 14 for {@link #EFAULT}; -1 for {@link #OTHER}. */
    public int value() {
        return value;
    }

    /** The constant for {@code value}, or {@link #OTHER}. */
    public static Errno of(int value) {
        return BY_VALUE.getOrDefault(value, OTHER);
    }
}
