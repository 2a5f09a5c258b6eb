package io.vhost4j.cli;

import io.vhost4j.BackendFeatures;
import io.vhost4j.DeviceKind;
import io.vhost4j.FeatureWords;
import io.vhost4j.Features;
import io.vhost4j.VhostDevice;
import io.vhost4j.VhostException;
import io.vhost4j.IovaRange;
import io.vhost4j.VhostNet;
import io.vhost4j.VhostVdpa;
import io.vhost4j.VhostVsock;
import io.vhost4j.vdpa.VdpaBus;
import io.vhost4j.vdpa.VdpaDeviceInfo;
import io.vhost4j.vdpa.VdpaManagement;
import io.vhost4j.VirtioFeature;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/** {@code vhostctl probe}: which vhost devices exist and open, their features, whether the IOTLB is there. */
@Command(name = "probe", mixinStandardHelpOptions = true,
        description = "List /dev/vhost-net, /dev/vhost-vsock and /dev/vhost-vdpa-*: whether each opens, its feature"
                + " and backend feature bits by name, and whether the device IOTLB is available; for vDPA devices"
                + " also the device id, queues, IOVA range, groups and address spaces, and the devices on the vDPA"
                + " bus (by netlink) with their driver.",
        footer = {"", ExitCodes.HELP})
final class ProbeCommand implements Callable<Integer> {
    @Option(names = "--json", description = "Print JSON instead of a table.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        List<String> paths = new ArrayList<>(List.of(DeviceKind.NET.defaultPath(), DeviceKind.VSOCK.defaultPath()));
        try (Stream<Path> dev = Files.list(Path.of("/dev"))) {
            dev.map(Path::toString).filter(p -> p.startsWith("/dev/vhost-vdpa-")).sorted().forEach(paths::add);
        }
        List<Map<String, Object>> devices = new ArrayList<>();
        int code = ExitCodes.NO_DEVICE;
        for (String path : paths) {
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("path", path);
            d.put("exists", Files.exists(Path.of(path)));
            if (Files.exists(Path.of(path))) {
                try (VhostDevice dev = open(path)) {
                    Features f = dev.getFeatures();
                    BackendFeatures b = dev.getBackendFeatures();
                    d.put("opened", true);
                    d.put("features", "0x" + Long.toHexString(f.bits()));
                    d.put("featureNames", f.names());
                    d.put("featuresBeyond64", dev.getFeaturesArray().<Object>map(FeatureWords::highNames)
                            .orElse("not supported"));
                    d.put("backendFeatures", "0x" + Long.toHexString(b.bits()));
                    d.put("backendFeatureNames", b.names());
                    d.put("iotlb", f.has(VirtioFeature.ACCESS_PLATFORM));
                    d.put("forkFromOwner", dev.getForkFromOwner().map(o -> o.name().toLowerCase(Locale.ROOT))
                            .orElse("not supported (ENOTTY)"));
                    if (dev instanceof VhostVdpa v) {
                        d.put("vdpa", vdpaDetails(v));
                    }
                    d.put("vringWorkers", vringWorkers(path));
                    code = code == ExitCodes.NO_DEVICE || code == ExitCodes.PERMISSION ? ExitCodes.OK : code;
                } catch (VhostException e) {
                    d.put("opened", false);
                    d.put("error", e.errnoName());
                    d.put("message", ExitCodes.remedy(e));
                    if (ExitCodes.of(e) == ExitCodes.PERMISSION && code == ExitCodes.NO_DEVICE) {
                        code = ExitCodes.PERMISSION;
                    }
                }
            }
            devices.add(d);
        }
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("kernel", Files.readString(Path.of("/proc/sys/kernel/osrelease")).trim());
        report.put("devices", devices);
        report.put("vdpaBus", vdpaBus());
        report.put("exitCode", code);
        var out = spec.commandLine().getOut();
        if (json) {
            out.println(Json.write(report));
        } else {
            out.println("kernel " + report.get("kernel"));
            for (Map<String, Object> d : devices) {
                if (!(Boolean) d.get("exists")) {
                    out.printf("%-20s absent%n", d.get("path"));
                } else if (!(Boolean) d.get("opened")) {
                    out.printf("%-20s cannot open: %s%n", d.get("path"), d.get("message"));
                } else {
                    out.printf("%-20s features %s %s%s%n", d.get("path"), d.get("features"), d.get("featureNames"),
                            d.get("featuresBeyond64") instanceof List<?> high && !high.isEmpty() ? " + " + high : "");
                    out.printf("%-20s backend  %s %s, device IOTLB %s%n", "", d.get("backendFeatures"),
                            d.get("backendFeatureNames"), (Boolean) d.get("iotlb") ? "available" : "not offered");
                    out.printf("%-20s worker   fork from owner: %s; vring workers: %s%n", "", d.get("forkFromOwner"),
                            d.get("vringWorkers"));
                    if (d.get("vdpa") instanceof Map<?, ?> v) {
                        out.printf("%-20s vdpa     %s%n", "", v);
                    }
                }
            }
            Object bus = report.get("vdpaBus");
            if (bus instanceof List<?> list) {
                for (Object b : list) {
                    out.printf("%-20s %s%n", "vdpa bus", b);
                }
            } else {
                out.printf("%-20s %s%n", "vdpa bus", bus);
            }
            if (code == ExitCodes.NO_DEVICE) {
                out.println("no vhost device here: load vhost_net (modprobe vhost_net), or on a host that cannot have"
                        + " it, vhost4j's source tree runs commands in a throwaway guest kernel: ci/vm-run -- COMMAND");
            }
        }
        return code;
    }

    /** What a vhost-vdpa device says of itself; the queue sizes need the owner, which probing then takes. */
    private static Map<String, Object> vdpaDetails(VhostVdpa v) {
        Map<String, Object> m = new LinkedHashMap<>();
        try {
            m.put("deviceId", v.getDeviceId());
            m.put("queues", v.queueCount());
            m.put("configSize", v.getConfigSize());
            m.put("maxQueueSize", v.getVringNum());
            IovaRange r = v.getIovaRange();
            m.put("iovaRange", r.toString());
            m.put("groups", v.getGroupNum());
            m.put("addressSpaces", v.getAsNum());
        } catch (VhostException e) {
            m.put("error", e.getMessage());
        }
        return m;
    }

    /** The devices on the vDPA bus, by netlink, with their driver and node; or why there are none. */
    private static Object vdpaBus() {
        try (VdpaManagement mgmt = VdpaManagement.open()) {
            List<Map<String, Object>> out = new ArrayList<>();
            for (VdpaDeviceInfo i : mgmt.devices()) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("name", i.name());
                m.put("managementDevice", i.managementDevice());
                m.put("deviceId", i.deviceId());
                m.put("maxQueues", i.maxQueues());
                m.put("maxQueueSize", i.maxQueueSize());
                m.put("driver", VdpaBus.driverOf(i.name()).orElse("none"));
                m.put("node", VdpaBus.vhostVdpaNode(i.name()).orElse("none"));
                out.add(m);
            }
            return out;
        } catch (VhostException e) {
            return e.errno() == io.vhost4j.Errno.ENOENT ? "the vdpa module is not loaded (modprobe vdpa)"
                    : e.getMessage();
        } catch (IOException e) {
            return e.getMessage();
        }
    }

    /** Whether the device takes VHOST_NEW_WORKER: probed on a device of its own (it needs an owner). */
    private static String vringWorkers(String path) {
        try (VhostDevice dev = open(path)) {
            dev.setOwner();
            dev.freeWorker(dev.newWorker());
            return "supported";
        } catch (VhostException e) {
            return "not supported (" + e.errnoName() + ")";
        }
    }

    private static VhostDevice open(String path) throws VhostException {
        if (path.equals(DeviceKind.NET.defaultPath())) {
            return VhostNet.open(path);
        }
        if (path.equals(DeviceKind.VSOCK.defaultPath())) {
            return VhostVsock.open(path);
        }
        if (path.startsWith("/dev/vhost-vdpa-")) {
            return VhostVdpa.open(path);
        }
        return VhostDevice.open(path);
    }
}
