package io.vhost4j;

/**
 * The caller lacks a permission: EACCES anywhere, or EPERM from a call that needs a privilege (opening a device,
 * creating a tap: root or CAP_NET_ADMIN / CAP_NET_RAW). EPERM from a vhost ioctl is not this: it means the
 * device has no owner yet ({@link VhostDevice#setOwner()}) and is a plain {@link VhostException}.
 */
public final class PermissionDeniedException extends VhostException {
    private static final long serialVersionUID = 1L;

    /** See {@link VhostException#VhostException}. */
    public PermissionDeniedException(int errnoValue, String errnoName, String description, String operation,
                                     String device, String hint) {
        super(errnoValue, errnoName, description, operation, device, hint);
    }
}
