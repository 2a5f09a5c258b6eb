package io.vhost4j;

import io.vhost4j.internal.gen.vhost_vdpa_config;
import io.vhost4j.internal.gen.vhost_vdpa_iova_range;
import io.vhost4j.internal.gen.vhost_vring_state;
import io.vhost4j.internal.sys.Fd;
import io.vhost4j.internal.sys.Sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

import static io.vhost4j.internal.gen.VhostH.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * {@code /dev/vhost-vdpa-N}: a vDPA device (hardware, or a userspace VDUSE device) driven through vhost.
 *
 * <p>Unlike vhost-net, the VMM plays the virtio driver's part towards the device: it negotiates
 * {@link #setStatus status} (ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK), reads the {@link #getConfig config
 * space}, enables each queue ({@link #setVringEnable}), and maps guest memory itself: there are no misses, every
 * range is mapped up front by {@link #map IOTLB UPDATE} writes, and ring addresses are always IOVAs. With backend
 * feature {@link BackendFeature#IOTLB_BATCH} acked, {@link #updateIotlb} wraps its messages in one
 * BATCH_BEGIN/BATCH_END, which a device with its own mapping table (VDUSE among them) receives as one map; with
 * {@link BackendFeature#IOTLB_ASID} acked, messages may name an address space below {@link #getAsNum()}.
 * Ranges outside {@link #getIovaRange()} are refused here, before the kernel sees them.
 *
 * <p>The device is opened by one process at a time (EBUSY). For a VDUSE device, opening and closing this file and
 * every status or mapping change wait for the VDUSE process's reply: never issue them from the thread that serves
 * that device's messages.
 */
public final class VhostVdpa extends VhostDevice {
    private final int queues;
    private volatile IovaRange iovaRange;
    private volatile int configSize = -1; // read once: a device's configuration space does not change size

    private VhostVdpa(String path) throws VhostException {
        super(path, DeviceKind.VDPA);
        int n;
        try {
            checkVdpaNode(OpenFile.of(fd()), path + " (");
            n = getVqsCount();
        } catch (VhostException | RuntimeException e) {
            close();
            throw e;
        }
        queues = n;
        limitQueues(n);
    }

    private VhostVdpa(Fd fd, int queues) {
        super(fd, DeviceKind.VDPA);
        this.queues = queues;
        limitQueues(queues);
    }

    /**
     * Takes ownership of {@code fd}, a vhost-vdpa descriptor opened elsewhere (e.g. received with
     * {@link FdPassing} from a privileged helper): checked first to be the character device of a vhost-vdpa node
     * ({@code /sys/dev/char/<major>:<minor>} is a {@code vhost-vdpa-N} device, whatever the path it was opened by)
     * that answers {@code VHOST_VDPA_GET_VQS_COUNT}. Nothing is taken if a check fails.
     *
     * @throws IllegalArgumentException if {@code fd} is not such a device
     */
    public static VhostVdpa adopt(int fd) {
        OpenFile f = OpenFile.of(fd);
        String path = f.path();
        checkVdpaNode(f, "fd " + fd + " (" + path + ", ");
        MemorySegment s = Sys.scratch();
        s.set(JAVA_INT, 0, 0);
        int rc = Sys.ioctl(fd, VHOST_VDPA_GET_VQS_COUNT(), s);
        if (rc < 0) {
            throw new IllegalArgumentException("fd " + fd + " (" + path + ") does not answer VHOST_VDPA_GET_VQS_COUNT: "
                    + io.vhost4j.internal.sys.Errors.name(-rc));
        }
        return new VhostVdpa(Fd.adopt(fd, path), s.get(JAVA_INT, 0));
    }

    /**
     * Checks that {@code f} is the character device of a vhost-vdpa node ({@code /sys/dev/char/<major>:<minor>} is a
     * {@code vhost-vdpa-N} device); the message starts with {@code named}.
     */
    private static void checkVdpaNode(OpenFile f, String named) {
        String number = f.major() + ":" + f.minor(), device = null;
        try {
            java.nio.file.Path sys = java.nio.file.Path.of("/sys/dev/char/" + number);
            if (f.characterDevice() && java.nio.file.Files.isSymbolicLink(sys)) {
                device = java.nio.file.Files.readSymbolicLink(sys).getFileName().toString();
            }
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException(named + "device " + number + "): " + e.getMessage(), e);
        }
        if (device == null || !device.matches("vhost-vdpa-\\d+")) {
            throw new IllegalArgumentException(named + "device " + number + (device == null ? "" : " = " + device)
                    + ") is not a vhost-vdpa device");
        }
    }

    /**
     * Opens a vhost-vdpa device node, e.g. {@code /dev/vhost-vdpa-0}: it must be one (checked as {@link #adopt}
     * checks a descriptor), else it is closed again and refused ({@link IllegalArgumentException}).
     */
    public static VhostVdpa open(String path) throws VhostException {
        return new VhostVdpa(path);
    }

    /** Opens {@code /dev/vhost-vdpa-<index>}. */
    public static VhostVdpa open(int index) throws VhostException {
        if (index < 0) {
            throw new IllegalArgumentException("vhost-vdpa index " + index + " is negative");
        }
        return open("/dev/vhost-vdpa-" + index);
    }

    /** The number of virtqueues, as {@code VHOST_VDPA_GET_VQS_COUNT} said when the device was opened. */
    public int queueCount() {
        return queues;
    }

    private int getU32(String op, long request) throws VhostException {
        Sys.Local l = Sys.local();
        MemorySegment s = l.scratch();
        s.set(JAVA_INT, 0, 0);
        ioctl(l, op, request, s);
        return s.get(JAVA_INT, 0);
    }

    // ---- identity and configuration space ----------------------------------------------------------

    /** {@code VHOST_VDPA_GET_DEVICE_ID}: the virtio device type (1 = net, 2 = block, ...). */
    public int getDeviceId() throws VhostException {
        return getU32("VHOST_VDPA_GET_DEVICE_ID", VHOST_VDPA_GET_DEVICE_ID());
    }

    /** {@code VHOST_VDPA_GET_VQS_COUNT}: how many virtqueues the device has. */
    public int getVqsCount() throws VhostException {
        return getU32("VHOST_VDPA_GET_VQS_COUNT", VHOST_VDPA_GET_VQS_COUNT());
    }

    /** {@code VHOST_VDPA_GET_CONFIG_SIZE}: the size of the device's configuration space in bytes (read once, then cached). */
    public int getConfigSize() throws VhostException {
        int size = configSize;
        if (size < 0) {
            configSize = size = getU32("VHOST_VDPA_GET_CONFIG_SIZE", VHOST_VDPA_GET_CONFIG_SIZE());
        }
        return size;
    }

    /**
     * {@code VHOST_VDPA_GET_CONFIG}: {@code length} bytes of the configuration space from {@code offset}.
     *
     * @throws IllegalArgumentException if the range is empty or leaves the configuration space
     */
    public byte[] getConfig(int offset, int length) throws VhostException {
        checkConfigRange(offset, length);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment c = arena.allocate(vhost_vdpa_config.sizeof() + length, 4);
            vhost_vdpa_config.off(c, offset);
            vhost_vdpa_config.len(c, length);
            ioctl("VHOST_VDPA_GET_CONFIG", VHOST_VDPA_GET_CONFIG(), c);
            return c.asSlice(vhost_vdpa_config.buf$offset(), length).toArray(JAVA_BYTE);
        }
    }

    /**
     * {@code VHOST_VDPA_SET_CONFIG}: writes {@code data} into the configuration space at {@code offset} (devices
     * with a read-only space, VDUSE among them, accept and ignore it).
     */
    public void setConfig(int offset, byte[] data) throws VhostException {
        checkConfigRange(offset, data.length);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment c = arena.allocate(vhost_vdpa_config.sizeof() + data.length, 4);
            vhost_vdpa_config.off(c, offset);
            vhost_vdpa_config.len(c, data.length);
            MemorySegment.copy(MemorySegment.ofArray(data), 0, c, vhost_vdpa_config.buf$offset(), data.length);
            ioctl("VHOST_VDPA_SET_CONFIG", VHOST_VDPA_SET_CONFIG(), c);
        }
    }

    private void checkConfigRange(int offset, int length) throws VhostException {
        int size = getConfigSize();
        if (offset < 0 || length <= 0 || offset > size || length > size - offset) {
            throw new IllegalArgumentException("config range " + offset + "+" + length + " outside the " + size
                    + "-byte configuration space of " + path());
        }
    }

    /** {@code VHOST_VDPA_SET_CONFIG_CALL}: the eventfd signalled when the configuration changes; {@code null} unbinds. */
    public void setConfigCall(EventFd eventFd) throws VhostException {
        Sys.Local l = Sys.local();
        ioctlPassing(l, "VHOST_VDPA_SET_CONFIG_CALL", VHOST_VDPA_SET_CONFIG_CALL(), l.scratch(), 0, handleOf(eventFd));
    }

    // ---- status ----------------------------------------------------------------------------------------

    /** {@code VHOST_VDPA_GET_STATUS}. */
    public DeviceStatus getStatus() throws VhostException {
        Sys.Local l = Sys.local();
        MemorySegment s = l.scratch();
        s.set(JAVA_BYTE, 0, (byte) 0);
        ioctl(l, "VHOST_VDPA_GET_STATUS", VHOST_VDPA_GET_STATUS(), s);
        return new DeviceStatus(s.get(JAVA_BYTE, 0) & 0xff);
    }

    /**
     * {@code VHOST_VDPA_SET_STATUS}. {@link DeviceStatus#RESET} resets the device (and, without IOTLB_PERSIST,
     * empties its IOTLB). The kernel refuses to clear bits other than by a reset (EINVAL); adding DRIVER_OK makes it
     * start the queues, which fails with the device's error if a queue is not set up.
     */
    public void setStatus(DeviceStatus status) throws VhostException {
        Sys.Local l = Sys.local();
        MemorySegment s = l.scratch();
        s.set(JAVA_BYTE, 0, (byte) status.bits());
        ioctl(l, "VHOST_VDPA_SET_STATUS", VHOST_VDPA_SET_STATUS(), s);
    }

    /**
     * {@code VHOST_VDPA_SUSPEND}: stops the device's queues, keeping their state. Before DRIVER_OK the kernel
     * accepts it on any device (nothing runs); after, it is EOPNOTSUPP unless backend feature SUSPEND is offered.
     */
    public void suspend() throws VhostException {
        ioctl("VHOST_VDPA_SUSPEND", VHOST_VDPA_SUSPEND(), MemorySegment.NULL);
    }

    /** {@code VHOST_VDPA_RESUME}: restarts a suspended device (after DRIVER_OK, EOPNOTSUPP unless backend RESUME). */
    public void resume() throws VhostException {
        ioctl("VHOST_VDPA_RESUME", VHOST_VDPA_RESUME(), MemorySegment.NULL);
    }

    // ---- queues ----------------------------------------------------------------------------------------

    /** {@code VHOST_VDPA_GET_VRING_NUM}: the largest queue size the device supports. */
    public int getVringNum() throws VhostException {
        Sys.Local l = Sys.local();
        MemorySegment s = l.scratch();
        s.set(JAVA_SHORT, 0, (short) 0);
        ioctl(l, "VHOST_VDPA_GET_VRING_NUM", VHOST_VDPA_GET_VRING_NUM(), s);
        return s.get(JAVA_SHORT, 0) & 0xffff;
    }

    /** {@code VHOST_VDPA_GET_VRING_SIZE} (Linux 6.10+): the size of queue {@code index} (its maximum until set). */
    public int getVringSize(int index) throws VhostException {
        return getVringState("VHOST_VDPA_GET_VRING_SIZE", VHOST_VDPA_GET_VRING_SIZE(), index);
    }

    /** {@code VHOST_VDPA_SET_VRING_ENABLE}: makes queue {@code index} ready (or not) for the device. */
    public void setVringEnable(int index, boolean enable) throws VhostException {
        checkIndex(index);
        Sys.Local l = Sys.local();
        MemorySegment s = l.scratch();
        vhost_vring_state.index(s, index);
        vhost_vring_state.num(s, enable ? 1 : 0);
        ioctl(l, "VHOST_VDPA_SET_VRING_ENABLE", VHOST_VDPA_SET_VRING_ENABLE(), s);
    }

    // ---- groups and address spaces ----------------------------------------------------------------------

    /** {@code VHOST_VDPA_GET_GROUP_NUM}: how many virtqueue groups the device has. */
    public int getGroupNum() throws VhostException {
        return getU32("VHOST_VDPA_GET_GROUP_NUM", VHOST_VDPA_GET_GROUP_NUM());
    }

    /** {@code VHOST_VDPA_GET_AS_NUM}: how many address spaces (ASIDs) the device has. */
    public int getAsNum() throws VhostException {
        return getU32("VHOST_VDPA_GET_AS_NUM", VHOST_VDPA_GET_AS_NUM());
    }

    /** {@code VHOST_VDPA_GET_VRING_GROUP}: the group of queue {@code index} (EOPNOTSUPP where the device has none). */
    public int getVringGroup(int index) throws VhostException {
        return getVringState("VHOST_VDPA_GET_VRING_GROUP", VHOST_VDPA_GET_VRING_GROUP(), index);
    }

    /**
     * {@code VHOST_VDPA_GET_VRING_DESC_GROUP}: the group of queue {@code index}'s rings, where they may be apart
     * from its buffers (EOPNOTSUPP unless backend feature DESC_ASID is offered).
     */
    public int getVringDescGroup(int index) throws VhostException {
        return getVringState("VHOST_VDPA_GET_VRING_DESC_GROUP", VHOST_VDPA_GET_VRING_DESC_GROUP(), index);
    }

    /** {@code VHOST_VDPA_SET_GROUP_ASID}: binds virtqueue group {@code group} to address space {@code asid}. */
    public void setGroupAsid(int group, int asid) throws VhostException {
        if (group < 0 || asid < 0) {
            throw new IllegalArgumentException("group " + group + " / asid " + asid + " must not be negative");
        }
        Sys.Local l = Sys.local();
        MemorySegment s = l.scratch();
        vhost_vring_state.index(s, group);
        vhost_vring_state.num(s, asid);
        ioctl(l, "VHOST_VDPA_SET_GROUP_ASID", VHOST_VDPA_SET_GROUP_ASID(), s);
    }

    // ---- DMA mapping ---------------------------------------------------------------------------------

    /** {@code VHOST_VDPA_GET_IOVA_RANGE}: the IOVAs the device can use (read once, then cached). */
    public IovaRange getIovaRange() throws VhostException {
        IovaRange r = iovaRange;
        if (r == null) {
            Sys.Local l = Sys.local();
            MemorySegment s = l.scratch();
            vhost_vdpa_iova_range.first(s, 0);
            vhost_vdpa_iova_range.last(s, 0);
            ioctl(l, "VHOST_VDPA_GET_IOVA_RANGE", VHOST_VDPA_GET_IOVA_RANGE(), s);
            iovaRange = r = new IovaRange(vhost_vdpa_iova_range.first(s), vhost_vdpa_iova_range.last(s));
        }
        return r;
    }

    /** Maps {@code [iova, iova+size)} to this process's {@code userAddr} with {@code perm}, in address space 0. */
    public void map(long iova, long size, long userAddr, Access perm) throws VhostException {
        updateIotlb(List.of(IotlbMessage.update(iova, size, userAddr, perm)));
    }

    /** Drops every mapping overlapping {@code [iova, iova+size)} in address space 0. */
    public void unmap(long iova, long size) throws VhostException {
        updateIotlb(List.of(IotlbMessage.invalidate(iova, size)));
    }

    /**
     * Writes UPDATE and INVALIDATE messages, all of one address space, as one batch when IOTLB_BATCH is acked
     * (BATCH_BEGIN, the messages, BATCH_END: a device with its own mapping table sees one map), else one by one.
     * With a VDUSE device served in this same process, ack IOTLB_BATCH: see {@link io.vhost4j.vdpa.VduseDevice}.
     * Everything is checked before the first write: message types, each range inside {@link #getIovaRange()}, and
     * the address space (non-zero only with IOTLB_ASID acked, and below {@link #getAsNum()}). If the kernel refuses
     * a message, the batch is still ended (the device gets what was written before it) and the failure names the
     * message.
     *
     * <p>For a device that works on virtual addresses (VDUSE), vhost-vdpa maps only memory that is
     * {@code MAP_SHARED} and file-backed (e.g. a memfd) and silently skips the rest.
     */
    public void updateIotlb(List<IotlbMessage> messages) throws VhostException {
        if (messages.isEmpty()) {
            return;
        }
        IovaRange range = getIovaRange();
        int asid = messages.get(0).asid();
        for (IotlbMessage m : messages) {
            if (m.type() != IotlbType.UPDATE && m.type() != IotlbType.INVALIDATE) {
                throw new IllegalArgumentException(m.type() + " in a vhost-vdpa IOTLB update: only UPDATE and"
                        + " INVALIDATE (batches are made here)");
            }
            if (m.asid() != asid) {
                throw new IllegalArgumentException("one IOTLB batch mixes address spaces " + asid + " and " + m.asid()
                        + ": the kernel applies a batch to the address space of its BATCH_END");
            }
            if (!range.contains(m.iova(), m.size())) {
                throw new IllegalArgumentException(m + " leaves the IOVA range " + range + " of " + path());
            }
        }
        checkAsid(asid);
        if (asid != 0) {
            int spaces = getAsNum();
            if (Integer.compareUnsigned(asid, spaces) >= 0) {
                throw new IllegalArgumentException("asid " + asid + " on " + path() + ", which has " + spaces
                        + " address space(s)");
            }
        }
        boolean batch = ackedBackendFeatures().has(BackendFeature.IOTLB_BATCH);
        if (batch) {
            writeIotlb(new IotlbMessage(asid, IotlbType.BATCH_BEGIN, 0, 0, 0, null));
        }
        VhostException failure = null;
        try {
            for (int i = 0; i < messages.size(); i++) {
                try {
                    writeIotlb(messages.get(i));
                } catch (VhostException e) {
                    failure = e;
                    break;
                }
            }
        } finally {
            if (batch) {
                writeIotlb(new IotlbMessage(asid, IotlbType.BATCH_END, 0, 0, 0, null));
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
