package io.vhost4j.kernel;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Gate for kernel tests: a missing device skips the test on a developer's host, but fails it inside the
 * project's kernel guest ({@code VHOST4J_IN_GUEST=1}, set by ci/vm-run) or in direct mode, where the
 * kernel suite must really run.
 */
public final class KernelDevices {
    private KernelDevices() {}

    /** Whether this JVM runs in the kernel suite (guest or direct mode). */
    public static boolean required() {
        return "1".equals(System.getenv("VHOST4J_IN_GUEST")) || "1".equals(System.getenv("VHOST4J_KERNEL_SUITE"));
    }

    /** Skips (or, in the kernel suite, fails) unless {@code path} exists and is readable and writable. */
    public static void require(String path) {
        Path p = Path.of(path);
        boolean usable = Files.exists(p) && Files.isReadable(p) && Files.isWritable(p);
        if (!usable) {
            if (required()) {
                fail(path + " is missing or not accessible in the kernel suite");
            }
            assumeTrue(false, path + " not available here: kernel test skipped (run ci/test)");
        }
    }

    /** Marks a test that does not apply to this kernel; ci/test counts it as "not applicable", never as passed. */
    public static void applicableOnlyIf(boolean applies, String why) {
        org.junit.jupiter.api.Assumptions.assumeTrue(applies, "not applicable on this kernel: " + why);
    }

    /** {@link #require} for vhost-net and the tun device. */
    public static void requireNet() {
        require("/dev/vhost-net");
        require("/dev/net/tun");
    }

    /** How many file descriptors this process has open ({@code /proc/self/fd}): leak checks compare two counts. */
    static long openFds() throws java.io.IOException {
        try (var fds = java.nio.file.Files.list(java.nio.file.Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    /**
     * This process's threads whose name ({@code /proc/self/task/TID/comm}) {@code name} accepts, as their
     * {@code /proc/self/task/TID} directories; a thread that ends meanwhile is left out.
     */
    static java.util.List<Path> threadsNamed(java.util.function.Predicate<String> name) throws java.io.IOException {
        java.util.List<Path> found = new java.util.ArrayList<>();
        try (var tasks = Files.list(Path.of("/proc/self/task"))) {
            for (Path task : tasks.toList()) {
                try {
                    if (name.test(Files.readString(task.resolve("comm")).strip())) {
                        found.add(task);
                    }
                } catch (java.io.IOException ended) {
                    // the thread has just ended
                }
            }
        }
        return found;
    }

    /** Whether the running kernel is at least {@code major.minor} ({@code os.version}). */
    static boolean kernelAtLeast(int major, int minor) {
        String[] v = System.getProperty("os.version").split("[.-]");
        int ma = Integer.parseInt(v[0]), mi = Integer.parseInt(v[1]);
        return ma > major || (ma == major && mi >= minor);
    }
}
