package io.vhost4j.testkit;

import io.vhost4j.Access;
import io.vhost4j.BackendFeature;
import io.vhost4j.BackendFeatures;
import io.vhost4j.IotlbMessage;
import io.vhost4j.IovaRange;
import io.vhost4j.VhostException;
import io.vhost4j.VhostVdpa;
import io.vhost4j.vdpa.VdpaBus;
import io.vhost4j.vdpa.VdpaManagement;
import io.vhost4j.vdpa.VduseControl;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Both sides of a vDPA net device in one process: a {@link VduseNetDevice} (the device, looping TX back to RX)
 * added to the vDPA bus by netlink and bound to vhost_vdpa, and the VMM side: the {@link VhostVdpa} file, shared
 * memfd-backed guest memory, and a {@link NetDriver} over it.
 *
 * <p>{@link #create} builds the device side and opens vhost-vdpa; {@link #start} then plays the VMM (owner, backend
 * features, one batch of three mappings for the driver's memory (rings, RX buffers, TX buffers), the driver's
 * setup up to DRIVER_OK). {@link #close()}
 * tears down in the order the kernel needs: the driver and the vhost-vdpa file, the vdpa device, the VDUSE device.
 * {@link #attach} is the VMM side alone, over a VDUSE device that another process serves.
 */
public final class VdpaNetLoopback implements AutoCloseable {
    /** Where the driver's memory starts, guest-physically. */
    public static final long GPA_BASE = 0x1000_0000L;
    private static final long IOVA_DISTANCE = 0x4_0000_0000L;

    private final String name;
    private final VduseControl control;
    private final VduseNetDevice device;
    private final VdpaManagement management;
    private final VhostVdpa vdpa;
    private final String node;
    private GuestMemory memory;
    private NetDriver driver;
    private DmaWindow window;

    private VdpaNetLoopback(String name, VduseControl control, VduseNetDevice device, VdpaManagement management,
                            String node, VhostVdpa vdpa) {
        this.name = name;
        this.control = control;
        this.device = device;
        this.management = management;
        this.node = node;
        this.vdpa = vdpa;
    }

    /**
     * Creates VDUSE net device {@code name} with queues of {@code queueSize}, adds it to the vDPA bus, binds it to
     * vhost_vdpa and opens its vhost-vdpa file. Whatever was made is undone if a step fails.
     */
    public static VdpaNetLoopback create(String name, int queueSize) throws IOException {
        VduseControl control = VduseControl.open();
        VduseNetDevice device;
        try {
            device = VduseNetDevice.create(control, name, queueSize);
        } catch (IOException | RuntimeException e) {
            control.close();
            throw e;
        }
        return vmmSide(name, control, device);
    }

    /**
     * The VMM side alone, for VDUSE device {@code name} that another process created and serves: adds it to the vDPA
     * bus, binds it to vhost_vdpa and opens its vhost-vdpa file. {@link #device()} is then {@code null}, and
     * {@link #close()} leaves the VDUSE device to that process (which must serve it until then). A device served in
     * another process is what unbatched UPDATEs need to be safe (see {@link io.vhost4j.vdpa.VduseDevice}).
     */
    public static VdpaNetLoopback attach(String name) throws IOException {
        return vmmSide(name, null, null);
    }

    /** Adds {@code name} to the bus, binds and opens it; undoes it all (and closes the device) if a step fails. */
    private static VdpaNetLoopback vmmSide(String name, VduseControl control, VduseNetDevice device)
            throws IOException {
        List<AutoCloseable> undo = new ArrayList<>();
        if (control != null) {
            undo.add(control);
            undo.add(0, () -> control.destroy(name));
            undo.add(0, device);
        }
        try {
            VdpaManagement management = VdpaManagement.open();
            undo.add(0, management);
            management.addDevice(name, "vduse");
            undo.add(0, () -> management.deleteDevice(name));
            String node = VdpaBus.bindToVhostVdpa(name, Duration.ofSeconds(10));
            VhostVdpa vdpa = VhostVdpa.open(node);
            return new VdpaNetLoopback(name, control, device, management, node, vdpa);
        } catch (IOException | RuntimeException e) {
            for (AutoCloseable c : undo) {
                try {
                    c.close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    /**
     * Plays the VMM: sets the owner, acks IOTLB_MSG_V2 (and IOTLB_BATCH when {@code batch} and offered), allocates
     * shared guest memory for the driver, maps it RW at IOVA = GPA + 16 GiB (inside the device's IOVA range) as
     * three mappings (rings, RX buffers, TX buffers) in one {@link VhostVdpa#updateIotlb} call, and configures the
     * driver up to DRIVER_OK.
     */
    public VdpaNetLoopback start(NetDriver.Config config, boolean batch) throws IOException {
        if (driver != null) {
            throw new IllegalStateException("started already");
        }
        vdpa.setOwner();
        BackendFeatures offered = vdpa.getBackendFeatures();
        BackendFeatures ack = BackendFeatures.of(BackendFeature.IOTLB_MSG_V2);
        if (batch && offered.has(BackendFeature.IOTLB_BATCH)) {
            ack = BackendFeatures.of(BackendFeature.IOTLB_MSG_V2, BackendFeature.IOTLB_BATCH);
        }
        vdpa.setBackendFeatures(ack);
        window = DmaWindow.iova(iovaDistance(vdpa.getIovaRange(), config.memoryNeeded()));
        memory = GuestMemory.allocateShared(GPA_BASE, config.memoryNeeded());
        driver = NetDriver.create(vdpa, memory, GPA_BASE, config.withDma(window));
        List<IotlbMessage> maps = new ArrayList<>();
        for (DmaRange r : List.of(driver.rings(), driver.rxBuffers(), driver.txBuffers())) {
            maps.add(IotlbMessage.update(r.deviceAddress(), r.size(), memory.userAddress(r.guestPhysAddress()),
                    Access.RW));
        }
        vdpa.updateIotlb(maps);
        driver.configure();
        return this;
    }

    /** IOVA = GPA + 16 GiB where the range allows, else the range's first page. */
    private static long iovaDistance(IovaRange range, long size) {
        if (range.contains(GPA_BASE + IOVA_DISTANCE, size)) {
            return IOVA_DISTANCE;
        }
        long first = (range.first() + 4095) & ~4095L;
        if (!range.contains(first, size)) {
            throw new IllegalStateException("the device's IOVA range " + range + " has no room for " + size + " bytes");
        }
        return first - GPA_BASE;
    }

    /** The vdpa (and VDUSE) device's name. */
    public String name() { return name; }

    /** The device side; {@code null} when it is another process's ({@link #attach}). */
    public VduseNetDevice device() { return device; }

    /** The VMM side's vhost-vdpa file. */
    public VhostVdpa vdpa() { return vdpa; }

    /** Its node, e.g. {@code /dev/vhost-vdpa-0}. */
    public String node() { return node; }

    /** The netlink client that added the device. */
    public VdpaManagement management() { return management; }

    /** The driver, after {@link #start}. */
    public NetDriver driver() { return driver; }

    /** The guest memory, after {@link #start}. */
    public GuestMemory memory() { return memory; }

    /** How the driver's memory is addressed (GPA to IOVA), after {@link #start}. */
    public DmaWindow window() { return window; }

    /** Tears down in the kernel's order; errors of one step do not keep the next from running. */
    @Override
    public void close() throws IOException {
        IOException first = null;
        if (driver != null) {
            driver.close();
        }
        vdpa.close(); // vhost-vdpa's release resets the device: the VDUSE message thread still answers
        try {
            management.deleteDevice(name);
        } catch (VhostException e) {
            first = e;
        }
        management.close();
        if (device != null) {
            device.close();
            try {
                control.destroy(name);
            } catch (VhostException e) {
                if (first == null) {
                    first = e;
                }
            }
            control.close();
        }
        if (memory != null) {
            memory.close();
        }
        if (first != null) {
            throw first;
        }
    }
}
