package io.vhost4j;

/**
 * A device node could not be opened because it is not there: ENOENT, ENODEV or ENXIO from {@code open}
 * (typically the module, e.g. {@code vhost_net}, is not loaded, or the kernel lacks it); or a kernel interface reached
 * by generic netlink is not registered (ENOENT looking up the family, e.g. {@code vdpa} without its module).
 */
public final class DeviceUnavailableException extends VhostException {
    private static final long serialVersionUID = 1L;

    /** See {@link VhostException#VhostException}. */
    public DeviceUnavailableException(int errnoValue, String errnoName, String description, String operation,
                                      String device, String hint) {
        super(errnoValue, errnoName, description, operation, device, hint);
    }
}
