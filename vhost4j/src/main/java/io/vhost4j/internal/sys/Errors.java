package io.vhost4j.internal.sys;

import io.vhost4j.DeviceUnavailableException;
import io.vhost4j.Errno;
import io.vhost4j.PermissionDeniedException;
import io.vhost4j.VhostException;

/**
 * The one place where errno is mapped: a failed syscall result becomes a {@link VhostException} (or its
 * {@link DeviceUnavailableException} / {@link PermissionDeniedException} subtypes) naming the errno, the
 * operation and the device, with a hint that is right for that operation.
 */
public final class Errors {
    private Errors() {}

    /** The symbolic name of {@code errno}, e.g. {@code "EFAULT"}, or {@code "errno 1234"} if unknown. */
    public static String name(int errno) {
        Errno e = Errno.of(errno);
        return e != Errno.OTHER ? e.name() : "errno " + errno;
    }

    private static boolean isVhost(String device) {
        return device != null && device.startsWith("/dev/vhost-");
    }

    private static boolean isOpen(String operation) {
        return operation.equals("open");
    }

    /** Whether {@code operation} looks up a generic netlink family: ENOENT there means the family is not registered. */
    private static boolean isFamilyLookup(String operation) {
        return operation.startsWith("CTRL_CMD_GETFAMILY ");
    }

    /** The hint for a {@code connect} that found no socket file or no listener (after FdPassing's retries). */
    private static final String NO_RECEIVER = "nothing listened on that socket in time: start the side that receives"
            + " the descriptors (FdPassing.receive) first, or wait longer";

    /** A short remedy for well-known failures, or {@code null}. */
    static String hint(Errno errno, String operation, String device) {
        boolean vhost = isVhost(device);
        switch (errno) {
            case ECONNREFUSED -> {
                if (operation.equals("connect")) {
                    return NO_RECEIVER;
                }
            }
            case ENOENT, ENODEV, ENXIO -> {
                if (operation.equals("connect") && errno == Errno.ENOENT) {
                    return NO_RECEIVER;
                }
                if (isFamilyLookup(operation)) {
                    String family = operation.substring("CTRL_CMD_GETFAMILY ".length());
                    return "the kernel has no generic netlink family \"" + family + "\": its module is not loaded"
                            + (family.equals("vdpa") ? " (modprobe vdpa)" : "");
                }
                if (isOpen(operation) && device.startsWith("/dev/vhost-vdpa-")) {
                    return "no vDPA device is bound to vhost_vdpa as " + device + " (vhostctl probe lists the vDPA"
                            + " bus), or the vhost_vdpa module is not loaded (modprobe vhost_vdpa)";
                }
                if (isOpen(operation) && vhost) {
                    String module = device.startsWith("/dev/vhost-vsock") ? "vhost_vsock"
                            : device.startsWith("/dev/vhost-vdpa") ? "vhost_vdpa" : "vhost_net";
                    return "the " + module + " module is not loaded (modprobe " + module + "), or this kernel lacks it";
                }
                if (isOpen(operation) && "/dev/net/tun".equals(device)) {
                    return "the tun module is not loaded (modprobe tun)";
                }
                if (isOpen(operation) && "/dev/vduse/control".equals(device)) {
                    return "the vduse module is not loaded (modprobe vduse), or this kernel lacks it (VDUSE net"
                            + " devices need Linux 6.10+)";
                }
            }
            case EACCES -> {
                return "needs read/write access to " + device + " (root, or a group that owns the device node)";
            }
            case EPERM -> {
                if (vhost && operation.startsWith("VHOST_")) {
                    return "the device has no owner, or another process owns it: call setOwner() first, from this"
                            + " process";
                }
                return "needs root or CAP_NET_ADMIN (taps, interfaces) / CAP_NET_RAW (packet sockets)";
            }
            case EINVAL -> {
                if (operation.equals("TUNSETOFFLOAD")) {
                    return "this kernel's tun refuses one of these offloads (USO4/USO6 need Linux 6.2+)";
                }
                if (operation.startsWith("VDPA_CMD_DEV_NEW")) {
                    return "for the vduse management device: no VDUSE device of that name, or one whose queues are not"
                            + " set up (VduseControl.create does both), or one on the bus already";
                }
                if (operation.startsWith("VDUSE_DESTROY_DEV")) {
                    return "no VDUSE device of that name";
                }
            }
            case EEXIST -> {
                if (operation.equals("TUNSETIFF")) {
                    return "an interface of that name exists: Tap.attach() uses an existing tap";
                }
            }
            case EFAULT -> {
                if (vhost && !device.startsWith("/dev/vhost-vdpa") && operation.startsWith("write(IOTLB")) {
                    return "the device IOTLB is off: ack ACCESS_PLATFORM (setFeatures) first";
                }
                if (vhost && operation.equals("VHOST_RESET_OWNER")) {
                    return "this device has no VHOST_RESET_OWNER (only vhost-net has): its kernel read the call as a"
                            + " queue ioctl; close this file and open the device again";
                }
                if (vhost && (operation.equals("VHOST_NET_SET_BACKEND") || operation.equals("VHOST_VSOCK_SET_RUNNING"))) {
                    return "a ring is not accessible: set the memory table, the ring sizes and addresses first (with"
                            + " the device IOTLB on, the used rings must be mapped: ManagedDevice.prefault)";
                }
            }
            case EADDRINUSE -> {
                if (vhost && operation.equals("VHOST_VSOCK_SET_GUEST_CID")) {
                    return "another vhost-vsock device of this host (or the host's own guest transport) has this CID:"
                            + " choose another";
                }
            }
            case ENOMEM -> {
                if (vhost && (operation.equals("VHOST_SET_OWNER") || operation.equals("VHOST_NEW_WORKER"))) {
                    return "the kernel could not create the device's worker, and vhost says ENOMEM whatever the cause:"
                            + " memory, or (where the worker is a thread of the owner: Linux 6.4 and later) this"
                            + " process at its task limit: its cgroup's pids.max, RLIMIT_NPROC, kernel.threads-max";
                }
            }
            case ENOTTY -> {
                if (operation.equals("VHOST_SET_FEATURES_ARRAY")) {
                    return "this device has no feature bits beyond 64 to ack (vhost-net has the call from Linux 6.18;"
                            + " getFeaturesArray() is empty here): setFeatures acks bits 0-63";
                }
            }
            case ENOBUFS -> {
                if (vhost && operation.equals("VHOST_FREE_WORKER")) {
                    return "this device has no worker calls (VHOST_NEW_WORKER answers ENOTTY): its kernel read the"
                            + " worker id as a queue index";
                }
            }
            case EBUSY -> {
                if (vhost && operation.equals("VHOST_SET_OWNER")) {
                    return device.startsWith("/dev/vhost-net")
                            ? "the device already has an owner (VHOST_RESET_OWNER first)"
                            : "the device already has an owner; only vhost-net can drop it (VHOST_RESET_OWNER): close"
                                    + " this file and open the device again";
                }
                if (operation.startsWith("VDUSE_DESTROY_DEV")) {
                    return "the device is still on the vDPA bus (VdpaManagement.deleteDevice first) or its /dev/vduse"
                            + " file is open (VduseDevice.close first)";
                }
            }
            default -> { }
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
        Errno e = Errno.of(errno);
        String name = name(errno), text = Sys.strerror(errno), hint = hint(e, operation, device);
        boolean privilege = e == Errno.EACCES
                || (e == Errno.EPERM && !(isVhost(device) && operation.startsWith("VHOST_")));
        if ((isOpen(operation) && (e == Errno.ENOENT || e == Errno.ENODEV || e == Errno.ENXIO))
                || (isFamilyLookup(operation) && e == Errno.ENOENT)) {
            return new DeviceUnavailableException(errno, name, text, operation, device, hint);
        }
        if (privilege) {
            return new PermissionDeniedException(errno, name, text, operation, device, hint);
        }
        return new VhostException(errno, name, text, operation, device, hint);
    }
}
