package io.vhost4j;

import java.io.IOException;

/**
 * A kernel call failed: carries the errno (number and symbolic name), the operation (e.g.
 * {@code VHOST_SET_VRING_ADDR}) and the device path, plus a hint where one helps.
 *
 * <p>Example message: {@code VHOST_NET_SET_BACKEND on /dev/vhost-net failed: EFAULT (Bad address)}.
 */
public final class VhostException extends IOException {
    private static final long serialVersionUID = 1L;

    private final int errno;
    private final String errnoName;
    private final String operation;
    private final String device;
    private final String hint;

    /** Created by the syscall layer; user code normally only catches it. */
    public VhostException(int errno, String errnoName, String description, String operation, String device,
                          String hint) {
        super(operation + " on " + device + " failed: " + errnoName + " (" + description + ")"
                + (hint == null ? "" : ": " + hint));
        this.errno = errno;
        this.errnoName = errnoName;
        this.operation = operation;
        this.device = device;
        this.hint = hint;
    }

    /** The errno value, e.g. 14. */
    public int errno() { return errno; }

    /** The errno's symbolic name, e.g. {@code "EFAULT"}. */
    public String errnoName() { return errnoName; }

    /** The operation that failed, e.g. {@code "VHOST_SET_MEM_TABLE"}, {@code "open"}, {@code "write(IOTLB)"}. */
    public String operation() { return operation; }

    /** The device (path or interface) the operation was applied to. */
    public String device() { return device; }

    /** A remedy, or {@code null}. */
    public String hint() { return hint; }
}
