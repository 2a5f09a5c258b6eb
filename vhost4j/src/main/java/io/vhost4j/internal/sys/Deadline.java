package io.vhost4j.internal.sys;

import java.time.Duration;
import java.util.Objects;

/**
 * The end of a wait a caller bounded with a {@link Duration}, on the {@link System#nanoTime()} clock. Every public
 * method that takes a timeout converts it here, so all of them read it alike: {@code null} is refused, a zero or
 * negative timeout does not wait (one attempt, as {@code BlockingQueue.poll} treats it), and one too large for
 * nanoseconds (e.g. {@code ChronoUnit.FOREVER.getDuration()}) waits for about 146 years instead of failing.
 */
public final class Deadline {
    /** Half the nanosecond range: {@code now + LONGEST} never overflows for any {@code nanoTime} origin. */
    private static final long LONGEST = Long.MAX_VALUE / 2;
    private static final Duration LONGEST_DURATION = Duration.ofNanos(LONGEST);
    private final long end;

    private Deadline(long end) {
        this.end = end;
    }

    /** The deadline {@code timeout} from now. */
    public static Deadline after(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        long nanos;
        if (timeout.isNegative()) {
            nanos = 0;
        } else if (timeout.compareTo(LONGEST_DURATION) >= 0) {
            nanos = LONGEST;
        } else {
            nanos = timeout.toNanos();
        }
        return new Deadline(System.nanoTime() + nanos);
    }

    /** Nanoseconds left, 0 once passed. */
    public long nanosLeft() {
        return Math.max(0, end - System.nanoTime());
    }

    /** Whether it has passed. */
    public boolean passed() {
        return end - System.nanoTime() <= 0;
    }

    /**
     * The time left in whole milliseconds for {@code poll}, rounded up (a wait never ends early) and at most
     * {@code cap}; 0 once passed.
     */
    public int millisLeft(int cap) {
        long left = nanosLeft();
        return (int) Math.min(cap, (left + 999_999) / 1_000_000);
    }
}
