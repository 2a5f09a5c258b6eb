package io.vhost4j.vdpa;

import io.vhost4j.VhostException;
import io.vhost4j.internal.gen.vduse_dev_config;
import io.vhost4j.internal.sys.Errors;
import io.vhost4j.internal.sys.Fd;
import io.vhost4j.internal.sys.Sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

import static io.vhost4j.internal.gen.VhostH.*;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * {@code /dev/vduse/control}: the API version, and creating and destroying VDUSE devices. A net device needs
 * CAP_NET_ADMIN (EPERM otherwise). After {@link #close()} every call throws {@link IllegalStateException}.
 */
public final class VduseControl implements AutoCloseable {
    /** The control device node. */
    public static final String PATH = "/dev/vduse/control";

    private final Fd fd;

    private VduseControl(Fd fd) {
        this.fd = fd;
    }

    /**
     * Opens {@value #PATH} (the vduse module must be loaded) and sets the API version to
     * {@link #API_VERSION}, the one whose structures this library speaks: newer kernels start a control file at
     * their own version (7.3: 1), under which device configurations carry fields the 6.12 header has as reserved.
     */
    public static VduseControl open() throws VhostException {
        VduseControl c = new VduseControl(Fd.open(PATH, O_RDWR() | O_CLOEXEC()));
        try {
            c.setApiVersion(API_VERSION);
            return c;
        } catch (VhostException | RuntimeException e) {
            c.close();
            throw e;
        }
    }

    /** The VDUSE API version of the header the bindings come from ({@code VDUSE_API_VERSION} of 6.12). */
    public static final long API_VERSION = VDUSE_API_VERSION();

    private void ioctl(String op, long request, MemorySegment arg) throws VhostException {
        int rc = fd.ioctl(Sys.local(), request, arg);
        if (rc < 0) {
            throw Errors.failure(-rc, op, PATH);
        }
    }

    /** {@code VDUSE_GET_API_VERSION}: the version this open control file works with ({@link #API_VERSION} after open). */
    public long getApiVersion() throws VhostException {
        MemorySegment s = Sys.scratch();
        s.set(JAVA_LONG, 0, 0);
        ioctl("VDUSE_GET_API_VERSION", VDUSE_GET_API_VERSION(), s);
        return s.get(JAVA_LONG, 0);
    }

    /** {@code VDUSE_SET_API_VERSION}: the kernel refuses a version above its own with EINVAL. */
    public void setApiVersion(long version) throws VhostException {
        MemorySegment s = Sys.scratch();
        s.set(JAVA_LONG, 0, version);
        ioctl("VDUSE_SET_API_VERSION", VDUSE_SET_API_VERSION(), s);
    }

    /**
     * Creates the device ({@code VDUSE_CREATE_DEV}), opens {@code /dev/vduse/<name>} and sizes every queue
     * ({@code VDUSE_VQ_SETUP}): the device is then ready to be added to the vDPA bus
     * ({@link VdpaManagement#addDevice}). On any failure the device is destroyed again.
     *
     * @throws VhostException EEXIST for a name in use, EPERM for a net device without CAP_NET_ADMIN, EINVAL for a
     *         configuration this kernel refuses
     */
    public VduseDevice create(VduseConfig config) throws VhostException {
        byte[] cfg = java.util.Objects.requireNonNull(config, "config").config();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment c = arena.allocate(vduse_dev_config.sizeof() + cfg.length, 8);
            byte[] name = config.name().getBytes(StandardCharsets.UTF_8);
            MemorySegment.copy(MemorySegment.ofArray(name), 0, c, vduse_dev_config.name$offset(), name.length);
            vduse_dev_config.vendor_id(c, config.vendorId());
            vduse_dev_config.device_id(c, config.deviceId());
            vduse_dev_config.features(c, config.features());
            vduse_dev_config.vq_num(c, config.queues());
            vduse_dev_config.vq_align(c, config.queueAlign());
            vduse_dev_config.config_size(c, cfg.length);
            MemorySegment.copy(MemorySegment.ofArray(cfg), 0, c, vduse_dev_config.config$offset(), cfg.length);
            ioctl("VDUSE_CREATE_DEV", VDUSE_CREATE_DEV(), c);
        }
        VduseDevice device = null;
        try {
            device = VduseDevice.open(config);
            for (int q = 0; q < config.queues(); q++) {
                device.setupQueue(q, config.queueMaxSize());
            }
            return device;
        } catch (VhostException | RuntimeException e) {
            if (device != null) {
                device.close();
            }
            try {
                destroy(config.name());
            } catch (VhostException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /**
     * {@code VDUSE_DESTROY_DEV}: removes a device that is off the vDPA bus and whose file is closed (EBUSY
     * otherwise; EINVAL if there is no such device).
     */
    public void destroy(String name) throws VhostException {
        java.util.Objects.requireNonNull(name, "name");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment n = arena.allocate(VDUSE_NAME_MAX());
            byte[] b = name.getBytes(StandardCharsets.UTF_8);
            if (b.length >= VDUSE_NAME_MAX()) {
                throw new IllegalArgumentException("VDUSE device name too long: " + name);
            }
            MemorySegment.copy(MemorySegment.ofArray(b), 0, n, 0, b.length);
            ioctl("VDUSE_DESTROY_DEV " + name, VDUSE_DESTROY_DEV(), n);
        }
    }

    /** Closes the control file (devices created through it stay). */
    @Override
    public void close() {
        fd.close();
    }
}
