package io.vhost4j;

import java.io.IOException;

/**
 * A kernel call failed: carries the errno (as {@link Errno} to switch on, and as its number), the operation
 * (e.g. {@code VHOST_SET_VRING_ADDR}) and the device path, plus a hint where one helps.
 *
 * <p>Example message: {@code VHOST_NET_SET_BACKEND on /dev/vhost-net failed: EFAULT (Bad address)}. Two cases
 * callers usually handle apart have their own types: {@link DeviceUnavailableException} (the device node or
 * its module is missing) and {@link PermissionDeniedException} (the caller lacks access or a capability).
 */
public sealed class VhostException extends IOException
        permits DeviceUnavailableException, PermissionDeniedException {
    private static final long serialVersionUID = 1L;

    private final Errno errno;
    private final int errnoValue;
    private final String errnoName;
    private final String operation;
    private final String device;
    private final String hint;

    /**
     * Created by the library's syscall layer; user code catches it.
     *
     * @param errnoValue  the errno number
     * @param errnoName   its symbolic name, e.g. {@code "EFAULT"}
     * @param description the C library's text for it
     * @param operation   what failed, e.g. {@code "VHOST_SET_OWNER"}
     * @param device      the device path or interface
     * @param hint        a remedy, or {@code null}
     */
    public VhostException(int errnoValue, String errnoName, String description, String operation, String device,
                          String hint) {
        super(operation + " on " + device + " failed: " + errnoName + " (" + description + ")"
                + (hint == null ? "" : ": " + hint));
        this.errno = Errno.of(errnoValue);
        this.errnoValue = errnoValue;
        this.errnoName = errnoName;
        this.operation = operation;
        this.device = device;
        this.hint = hint;
    }

    /** Why the call failed, e.g. {@link Errno#EFAULT}; {@link Errno#OTHER} for an unlisted value. */
    public Errno errno() { return errno; }

    /** The errno number, e.g. 14. */
    public int errnoValue() { return errnoValue; }

    /** The errno's symbolic name, e.g. {@code "EFAULT"} (or {@code "errno 1234"}). */
    public String errnoName() { return errnoName; }

    /** The operation that failed, e.g. {@code "VHOST_SET_MEM_TABLE"}, {@code "open"}, {@code "write(IOTLB)"}. */
    public String operation() { return operation; }

    /** The device (path or interface) the operation was applied to. */
    public String device() { return device; }

    /** A remedy, or {@code null}. */
    public String hint() { return hint; }
}
