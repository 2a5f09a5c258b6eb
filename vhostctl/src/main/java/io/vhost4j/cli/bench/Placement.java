package io.vhost4j.cli.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Where the three threads of a miss-serving round run ({@code vhostctl bench --pin SERVER,DRIVER,WORKER}): the
 * thread that serves the misses (the Java manager's or the C loop's), the guest driver's (the bench's own thread,
 * which transmits and waits for the used buffers), and the device's vhost worker. Pinned, a Java round and a C
 * round run their threads on the same CPUs, so their comparison is one of code, not of where the scheduler put the
 * threads that time (in the TCG guest that alone moved the frames of either loop by 2x). {@link #UNPINNED} leaves
 * placement to the scheduler.
 *
 * @param serverCpu the CPU of the serving thread, or -1
 * @param driverCpu the CPU of the driver thread, or -1
 * @param workerCpu the CPU of the vhost worker, or -1
 */
public record Placement(int serverCpu, int driverCpu, int workerCpu) {
    /** No pinning. */
    public static final Placement UNPINNED = new Placement(-1, -1, -1);

    /** Checks that all three are CPUs, or all three -1. */
    public Placement {
        boolean none = serverCpu == -1 && driverCpu == -1 && workerCpu == -1;
        if (!none) {
            for (int cpu : new int[] {serverCpu, driverCpu, workerCpu}) {
                if (cpu < 0 || cpu >= Affinity.MAX_CPUS) {
                    throw new IllegalArgumentException("a CPU number must be in 0.." + (Affinity.MAX_CPUS - 1)
                            + ", got " + cpu);
                }
            }
        }
    }

    /** {@code SERVER,DRIVER,WORKER}, three CPU numbers, e.g. {@code 0,1,0}. */
    public static Placement parse(String spec) {
        String[] cpus = spec.split(",", -1);
        if (cpus.length != 3) {
            throw new IllegalArgumentException("expected SERVER,DRIVER,WORKER (three CPU numbers), got '" + spec + "'");
        }
        try {
            return new Placement(Integer.parseInt(cpus[0].strip()), Integer.parseInt(cpus[1].strip()),
                    Integer.parseInt(cpus[2].strip()));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("expected SERVER,DRIVER,WORKER (three CPU numbers), got '" + spec + "'");
        }
    }

    /** Whether threads are pinned. */
    public boolean pinned() {
        return serverCpu >= 0;
    }

    /**
     * Pins the calling thread (the driver), this process's thread named {@code serverThread} (waiting up to a
     * second for a thread just started to carry its name) and the vhost worker of this process's one device; does
     * nothing when {@link #UNPINNED}. Returns a handle that gives the calling thread its CPUs back.
     */
    Restore apply(String serverThread) throws IOException, InterruptedException {
        if (!pinned()) {
            return () -> { };
        }
        long[] before = Affinity.get(0);
        Affinity.pin(0, driverCpu);
        try {
            Affinity.pin(awaitThread(serverThread), serverCpu);
            List<Integer> workers = vhostWorkers();
            if (workers.size() != 1) {
                throw new IllegalStateException("expected one vhost worker (vhost-<id of one of this process's"
                        + " threads>) to pin, found " + workers.size());
            }
            Affinity.pin(workers.get(0), workerCpu);
        } catch (IOException | InterruptedException | RuntimeException e) {
            Affinity.set(0, before);
            throw e;
        }
        return () -> Affinity.set(0, before);
    }

    /** Gives the calling thread the CPUs it had before {@link #apply}. */
    interface Restore extends AutoCloseable {
        @Override
        void close();
    }

    @Override
    public String toString() {
        return pinned() ? "serving thread on CPU " + serverCpu + ", driver thread on CPU " + driverCpu
                + ", vhost worker on CPU " + workerCpu : "unpinned";
    }

    /** The id of this process's thread named {@code name} (its first 15 characters, as the kernel keeps it). */
    private static int awaitThread(String name) throws IOException, InterruptedException {
        String comm = name.length() > 15 ? name.substring(0, 15) : name;
        long deadline = System.nanoTime() + 1_000_000_000L;
        while (true) {
            List<Integer> found = tasksNamed(Path.of("/proc/self/task"), comm::equals);
            if (found.size() == 1) {
                return found.get(0);
            }
            if (found.size() > 1) {
                throw new IllegalStateException(found.size() + " threads named " + comm + ": which to pin?");
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("no thread named " + comm + " to pin");
            }
            Thread.sleep(1);
        }
    }

    /**
     * This process's vhost workers: named {@code vhost-<tid>} after the thread that called {@code SET_OWNER} (its
     * thread id, not the process id), threads of this process where the worker is a task of the owner (6.4 and
     * later), kernel threads elsewhere.
     */
    private static List<Integer> vhostWorkers() throws IOException {
        java.util.Set<String> names = new java.util.HashSet<>();
        try (var tasks = Files.list(Path.of("/proc/self/task"))) {
            tasks.forEach(t -> names.add("vhost-" + t.getFileName()));
        }
        List<Integer> tasks = tasksNamed(Path.of("/proc/self/task"), names::contains);
        return tasks.isEmpty() ? tasksNamed(Path.of("/proc"), names::contains) : tasks;
    }

    /** The numeric entries of {@code dir} whose {@code comm} is one {@code name} accepts. */
    private static List<Integer> tasksNamed(Path dir, java.util.function.Predicate<String> name) throws IOException {
        List<Integer> found = new ArrayList<>();
        try (var entries = Files.list(dir)) {
            for (Path p : entries.toList()) {
                String id = p.getFileName().toString();
                if (!id.chars().allMatch(Character::isDigit)) {
                    continue;
                }
                try {
                    if (name.test(Files.readString(p.resolve("comm")).strip())) {
                        found.add(Integer.parseInt(id));
                    }
                } catch (IOException ended) {
                    // the thread or process has just ended
                }
            }
        }
        return found;
    }
}
