package io.vhost4j.cli.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;

/**
 * CPU time a thread has used, in all (user and system) and in user mode; the kernel splits the two by sampling at
 * its ticks, so the user part is coarse over short intervals.
 *
 * @param cpuNanos  user and system time
 * @param userNanos user-mode time
 */
record CpuTime(long cpuNanos, long userNanos) {
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    /** What {@code t} has used so far. */
    static CpuTime of(Thread t) {
        return new CpuTime(THREADS.getThreadCpuTime(t.threadId()), THREADS.getThreadUserTime(t.threadId()));
    }

    /** What the calling thread has used so far. */
    static CpuTime current() {
        return new CpuTime(THREADS.getCurrentThreadCpuTime(), THREADS.getCurrentThreadUserTime());
    }

    /** The time used since {@code before}. */
    CpuTime since(CpuTime before) {
        return new CpuTime(cpuNanos - before.cpuNanos, userNanos - before.userNanos);
    }

    /** Microseconds of CPU time (user and system) per event; 0 without events. */
    double cpuMicrosPer(long events) {
        return events == 0 ? 0 : cpuNanos / 1e3 / events;
    }

    /** Microseconds of user-mode time per event; 0 without events. */
    double userMicrosPer(long events) {
        return events == 0 ? 0 : userNanos / 1e3 / events;
    }
}
