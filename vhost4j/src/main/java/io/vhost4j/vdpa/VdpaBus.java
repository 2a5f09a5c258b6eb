package io.vhost4j.vdpa;

import io.vhost4j.internal.sys.Deadline;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The vDPA bus in sysfs ({@code /sys/bus/vdpa}): which driver a device is bound to, and binding it to
 * {@code vhost_vdpa} (so that it appears as {@code /dev/vhost-vdpa-N}) rather than {@code virtio_vdpa} (which
 * would give it to the host kernel's own virtio drivers). Writing the bus's files needs root.
 */
public final class VdpaBus {
    private VdpaBus() {}

    /** The vhost driver's name on the bus. */
    public static final String VHOST_VDPA = "vhost_vdpa";

    private static final Path BUS = Path.of("/sys/bus/vdpa");

    /** The names of the devices on the bus (empty without the vdpa module). */
    public static List<String> devices() throws IOException {
        Path dir = BUS.resolve("devices");
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** The driver device {@code name} is bound to, or empty. */
    public static Optional<String> driverOf(String name) throws IOException {
        Path link = device(name).resolve("driver");
        if (!Files.isSymbolicLink(link)) {
            return Optional.empty();
        }
        return Optional.of(Files.readSymbolicLink(link).getFileName().toString());
    }

    /** The vhost-vdpa node of device {@code name} ({@code /dev/vhost-vdpa-N}) while bound to vhost_vdpa, or empty. */
    public static Optional<String> vhostVdpaNode(String name) throws IOException {
        Path dir = device(name);
        if (!Files.isDirectory(dir)) {
            return Optional.empty();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("vhost-vdpa-")).findFirst()
                    .map(n -> "/dev/" + n);
        }
    }

    /**
     * Binds device {@code name} to {@code vhost_vdpa} (unbinding it from another driver first; setting its
     * {@code driver_override} where the kernel has one, so a re-probe keeps it there) and waits up to
     * {@code timeout} for its device node.
     *
     * @return the node, e.g. {@code /dev/vhost-vdpa-0}
     * @throws IOException if there is no such device, the vhost_vdpa module is not loaded, or the node does not
     *         appear in time
     */
    public static String bindToVhostVdpa(String name, Duration timeout) throws IOException {
        Deadline deadline = Deadline.after(timeout);
        Path dev = device(name);
        if (!Files.isDirectory(dev)) {
            throw new IOException("no vdpa device " + name + " (" + dev + ")");
        }
        Path drivers = BUS.resolve("drivers");
        if (!Files.isDirectory(drivers.resolve(VHOST_VDPA))) {
            throw new IOException("the vhost_vdpa module is not loaded (modprobe vhost_vdpa)");
        }
        Optional<String> current = driverOf(name);
        if (current.isEmpty() || !current.get().equals(VHOST_VDPA)) {
            Path override = dev.resolve("driver_override");
            if (Files.exists(override)) {
                Files.writeString(override, VHOST_VDPA);
            }
            if (current.isPresent()) {
                Files.writeString(drivers.resolve(current.get()).resolve("unbind"), name);
            }
            Files.writeString(drivers.resolve(VHOST_VDPA).resolve("bind"), name);
        }
        while (true) {
            Optional<String> node = vhostVdpaNode(name);
            if (node.isPresent() && Files.exists(Path.of(node.get()))) {
                return node.get();
            }
            if (deadline.passed()) {
                throw new IOException("vdpa device " + name + " has no vhost-vdpa node after " + timeout
                        + " (driver: " + driverOf(name).orElse("none") + ")");
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for the vhost-vdpa node of " + name, e);
            }
        }
    }

    private static Path device(String name) {
        if (name.isEmpty() || name.contains("/") || name.equals(".") || name.equals("..")) {
            throw new IllegalArgumentException("vdpa device name \"" + name + "\"");
        }
        return BUS.resolve("devices").resolve(name);
    }
}
