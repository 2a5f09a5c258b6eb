package io.vhost4j.kernel;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.model.Capability;
import com.github.dockerjava.api.model.Device;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.startupcheck.StartupCheckStrategy;
import org.testcontainers.images.builder.ImageFromDockerfile;
import org.testcontainers.utility.DockerImageName;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * vhostctl in a container with the least privilege it needs (Testcontainers, on the guest's own Docker daemon;
 * the image is built here from the distribution, no registry): /dev/vhost-net and /dev/net/tun, CAP_NET_ADMIN
 * (tap) and CAP_NET_RAW (packet socket), every other capability dropped, never --privileged, no network.
 */
@Tag("kernel")
class ContainerKernelTest {
    private static DockerImageName image;

    /** A one-shot container: started once it has exited, whatever its exit status. */
    private static final class Exited extends StartupCheckStrategy {
        @Override
        public StartupStatus checkStartupState(DockerClient client, String containerId) {
            return Boolean.TRUE.equals(getCurrentState(client, containerId).getRunning())
                    ? StartupStatus.NOT_YET_KNOWN : StartupStatus.SUCCESSFUL;
        }
    }

    record Outcome(long exitCode, String logs) {}

    @BeforeAll
    static void image() throws Exception {
        KernelDevices.requireNet();
        String socket = System.getProperty("vhost4j.docker", "");
        if (socket.isEmpty()) {
            if (KernelDevices.required() && "1".equals(System.getenv("VHOST4J_IN_GUEST"))) {
                fail("no Docker daemon in the guest (ci/guest-docker): see /run/vhost4j-dockerd.log");
            }
            assumeTrue(false, "no Docker daemon for the container tests here (they run in the kernel guest)");
        }
        Path context = stage(Path.of(System.getProperty("vhost4j.dist", "")));
        String tag = "vhost4j/vhostctl-under-test:" + ProcessHandle.current().pid();
        new ImageFromDockerfile(tag, false).withFileFromPath(".", context)
                .withBuildImageCmdModifier(cmd -> cmd.withNetworkMode("none")) // the guest's daemon has no bridge
                .get(10, TimeUnit.MINUTES);
        image = DockerImageName.parse(tag);
    }

    /** A build context: the distribution, busybox for /bin/sh, and the C libraries the runtime links. */
    private static Path stage(Path archive) throws IOException, InterruptedException {
        assertTrue(Files.isRegularFile(archive), "-Dvhost4j.dist: " + archive);
        Path ctx = Files.createTempDirectory("vhostctl-image");
        Path root = Files.createDirectories(ctx.resolve("rootfs"));
        Path opt = Files.createDirectories(root.resolve("opt"));
        exec(List.of("tar", "-xzf", archive.toString(), "-C", opt.toString()));
        Path home;
        try (var s = Files.list(opt)) {
            home = s.findFirst().orElseThrow();
        }
        Files.move(home, opt.resolve("vhostctl"));
        Path bin = Files.createDirectories(root.resolve("bin"));
        for (String applet : List.of("sh", "readlink", "dirname")) { // copies: the build context keeps no links
            Files.copy(Path.of("/bin/busybox"), bin.resolve(applet));
        }
        Set<String> libs = new LinkedHashSet<>();
        try (var files = Files.walk(opt.resolve("vhostctl"))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".so") || p.endsWith("bin/java")).toList()) {
                Matcher m = Pattern.compile("(/\\S+\\.so[.\\d]*) \\(0x").matcher(exec(List.of("ldd", f.toString())));
                while (m.find()) {
                    if (!m.group(1).startsWith(ctx.toString())) { // the runtime's own libraries are there already
                        libs.add(m.group(1));
                    }
                }
            }
        }
        for (String lib : libs) {
            Path target = root.resolve(lib.substring(1));
            Files.createDirectories(target.getParent());
            Files.copy(Path.of(lib).toRealPath(), target);
        }
        Files.writeString(ctx.resolve("Dockerfile"), """
                FROM scratch
                COPY rootfs/ /
                ENTRYPOINT ["/opt/vhostctl/bin/vhostctl"]
                """);
        return ctx;
    }

    private static String exec(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), cmd + ": " + out);
        return out;
    }

    /** Runs vhostctl {@code args} in a container with only {@code devices} and {@code caps}. */
    private static Outcome run(List<String> devices, List<Capability> caps, String... args) {
        try (GenericContainer<?> c = new GenericContainer<>(image)) {
            c.withCommand(args)
                    .withNetworkMode("none")
                    .withEnv("VHOSTCTL_JAVA_OPTS", System.getenv().getOrDefault("VHOSTCTL_JAVA_OPTS", ""))
                    .withStartupCheckStrategy(new Exited().withTimeout(Duration.ofMinutes(10)))
                    .withCreateContainerCmdModifier(cmd -> cmd.getHostConfig()
                            .withPrivileged(false)
                            .withCapDrop(Capability.ALL)
                            .withCapAdd(caps.toArray(Capability[]::new))
                            .withDevices(devices.stream().map(Device::parse).toList()));
            c.start();
            Long code = c.getCurrentContainerInfo().getState().getExitCodeLong();
            return new Outcome(code == null ? -1 : code, c.getLogs());
        }
    }

    private static final List<String> DEVICES = List.of("/dev/vhost-net:/dev/vhost-net:rwm",
            "/dev/net/tun:/dev/net/tun:rwm");

    @Test
    void selftestPassesWithOnlyTheTwoDevicesAndNetAdminAndNetRaw() {
        Outcome o = run(DEVICES, List.of(Capability.NET_ADMIN, Capability.NET_RAW), "selftest", "--frames", "50");
        assertEquals(0, o.exitCode(), o.logs());
        assertTrue(o.logs().contains("selftest passed"), o.logs());
        assertFalse(o.logs().contains("FAIL"), o.logs());
    }

    @Test
    void withoutTheDeviceItExits3WithItsHint() {
        Outcome o = run(List.of("/dev/net/tun:/dev/net/tun:rwm"), List.of(Capability.NET_ADMIN, Capability.NET_RAW),
                "selftest");
        assertEquals(3, o.exitCode(), o.logs());
        assertTrue(o.logs().contains("/dev/vhost-net") && o.logs().contains("module is not loaded"), o.logs());
    }

    @Test
    void withoutNetAdminItExits4WithItsHint() {
        Outcome o = run(DEVICES, List.of(Capability.NET_RAW), "selftest");
        assertEquals(4, o.exitCode(), o.logs());
        assertTrue(o.logs().contains("EPERM") && o.logs().contains("CAP_NET_ADMIN"), o.logs());
    }
}
