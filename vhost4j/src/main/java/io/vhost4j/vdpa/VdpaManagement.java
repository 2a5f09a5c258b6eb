package io.vhost4j.vdpa;

import io.vhost4j.VhostException;
import io.vhost4j.internal.sys.GenericNetlink;
import io.vhost4j.internal.sys.GenericNetlink.Attr;
import io.vhost4j.internal.sys.GenericNetlink.Reply;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static io.vhost4j.internal.gen.VhostH.*;

/**
 * The vDPA bus's management interface: the generic netlink family {@code "vdpa"} (what iproute2's {@code vdpa}
 * tool speaks). Lists management devices and devices, and adds and deletes devices (CAP_NET_ADMIN). A new device
 * binds to whichever vDPA driver is loaded and matches first; {@link VdpaBus#bindToVhostVdpa} makes sure it is
 * {@code vhost_vdpa}. After {@link #close()} every call throws {@link IllegalStateException}.
 */
public final class VdpaManagement implements AutoCloseable {
    /** The generic netlink family name. */
    public static final String FAMILY = "vdpa";

    private final GenericNetlink netlink;

    private VdpaManagement(GenericNetlink netlink) {
        this.netlink = netlink;
    }

    /**
     * Opens a netlink socket and resolves the family.
     *
     * @throws VhostException ENOENT when the {@code vdpa} module is not loaded
     */
    public static VdpaManagement open() throws VhostException {
        return new VdpaManagement(GenericNetlink.open(FAMILY));
    }

    private static void checkName(String name) {
        java.util.Objects.requireNonNull(name, "name");
        if (name.isEmpty() || name.indexOf('\0') >= 0 || name.indexOf('/') >= 0) {
            throw new IllegalArgumentException("vdpa device name \"" + name + "\" must be non-empty, without '/'");
        }
    }

    /**
     * {@code VDPA_CMD_DEV_NEW}: creates device {@code name} on management device {@code managementDevice} (a
     * {@link VdpaManagementDevice#handle()}, e.g. {@code vduse}; for VDUSE the name is that of a VDUSE device
     * created and set up before).
     *
     * @throws VhostException EEXIST for a name in use, ENODEV for an unknown management device, EPERM without
     *         CAP_NET_ADMIN, EINVAL for a VDUSE device that does not exist or whose queues are not set up
     */
    public void addDevice(String name, String managementDevice) throws VhostException {
        checkName(name);
        java.util.Objects.requireNonNull(managementDevice, "managementDevice");
        List<Attr> attrs = new ArrayList<>();
        int slash = managementDevice.indexOf('/');
        if (slash >= 0) {
            attrs.add(Attr.string(VDPA_ATTR_MGMTDEV_BUS_NAME(), managementDevice.substring(0, slash)));
        }
        attrs.add(Attr.string(VDPA_ATTR_MGMTDEV_DEV_NAME(), managementDevice.substring(slash + 1)));
        attrs.add(Attr.string(VDPA_ATTR_DEV_NAME(), name));
        netlink.request(VDPA_CMD_DEV_NEW(), VDPA_GENL_VERSION(), false, attrs, "VDPA_CMD_DEV_NEW " + name);
    }

    /**
     * {@code VDPA_CMD_DEV_DEL}: removes device {@code name} from the bus. The kernel waits until its vhost-vdpa
     * file is closed: close every {@link io.vhost4j.VhostVdpa} of it first.
     *
     * @throws VhostException ENODEV if there is no such device
     */
    public void deleteDevice(String name) throws VhostException {
        checkName(name);
        netlink.request(VDPA_CMD_DEV_DEL(), VDPA_GENL_VERSION(), false,
                List.of(Attr.string(VDPA_ATTR_DEV_NAME(), name)), "VDPA_CMD_DEV_DEL " + name);
    }

    /** {@code VDPA_CMD_DEV_GET} as a dump: every device on the bus. */
    public List<VdpaDeviceInfo> devices() throws VhostException {
        List<VdpaDeviceInfo> out = new ArrayList<>();
        for (Reply r : netlink.request(VDPA_CMD_DEV_GET(), VDPA_GENL_VERSION(), true, List.of(), "VDPA_CMD_DEV_GET")) {
            out.add(device(r));
        }
        return out;
    }

    /** {@code VDPA_CMD_DEV_GET} of one device, or empty if there is none of that name. */
    public Optional<VdpaDeviceInfo> device(String name) throws VhostException {
        checkName(name);
        try {
            List<Reply> r = netlink.request(VDPA_CMD_DEV_GET(), VDPA_GENL_VERSION(), false,
                    List.of(Attr.string(VDPA_ATTR_DEV_NAME(), name)), "VDPA_CMD_DEV_GET " + name);
            return r.isEmpty() ? Optional.empty() : Optional.of(device(r.get(0)));
        } catch (VhostException e) {
            if (e.errnoValue() == ENODEV()) {
                return Optional.empty();
            }
            throw e;
        }
    }

    private static VdpaDeviceInfo device(Reply r) {
        String bus = r.string(VDPA_ATTR_MGMTDEV_BUS_NAME());
        String mgmt = r.string(VDPA_ATTR_MGMTDEV_DEV_NAME());
        return new VdpaDeviceInfo(r.string(VDPA_ATTR_DEV_NAME()), bus == null ? mgmt : bus + "/" + mgmt,
                (int) r.number(VDPA_ATTR_DEV_ID(), 0), r.number(VDPA_ATTR_DEV_VENDOR_ID(), 0),
                (int) r.number(VDPA_ATTR_DEV_MAX_VQS(), 0), (int) r.number(VDPA_ATTR_DEV_MAX_VQ_SIZE(), 0),
                (int) r.number(VDPA_ATTR_DEV_MIN_VQ_SIZE(), 0));
    }

    /** {@code VDPA_CMD_MGMTDEV_GET} as a dump: every management device. */
    public List<VdpaManagementDevice> managementDevices() throws VhostException {
        List<VdpaManagementDevice> out = new ArrayList<>();
        for (Reply r : netlink.request(VDPA_CMD_MGMTDEV_GET(), VDPA_GENL_VERSION(), true, List.of(),
                "VDPA_CMD_MGMTDEV_GET")) {
            out.add(new VdpaManagementDevice(r.string(VDPA_ATTR_MGMTDEV_BUS_NAME()),
                    r.string(VDPA_ATTR_MGMTDEV_DEV_NAME()), r.number(VDPA_ATTR_MGMTDEV_SUPPORTED_CLASSES(), 0),
                    (int) r.number(VDPA_ATTR_DEV_MGMTDEV_MAX_VQS(), 0),
                    r.number(VDPA_ATTR_DEV_SUPPORTED_FEATURES(), 0)));
        }
        return out;
    }

    /** Closes the socket. */
    @Override
    public void close() {
        netlink.close();
    }
}
