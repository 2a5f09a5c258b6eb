package io.vhost4j.iotlb;

/**
 * A fixed-size log-linear histogram of nanosecond latencies (8 sub-buckets per power of two, so quantiles
 * are within 12.5 %), recorded without allocation. Not thread-safe: its owner guards it ({@link ManagedDevice}
 * records, snapshots and resets it under its own monitor, the one its counters already take per miss).
 */
public final class LatencyHistogram {
    private static final int SUB = 8;
    private final long[] counts = new long[64 * SUB];
    private long count, sum, max;

    /** A snapshot: count, mean, p50, p99 and max, all in nanoseconds. */
    public record Snapshot(long count, long meanNanos, long p50Nanos, long p99Nanos, long maxNanos) {
        @Override
        public String toString() {
            return String.format("n=%d mean=%.1fµs p50=%.1fµs p99=%.1fµs max=%.1fµs", count, meanNanos / 1e3,
                    p50Nanos / 1e3, p99Nanos / 1e3, maxNanos / 1e3);
        }
    }

    private static int bucket(long v) {
        if (v < SUB) {
            return (int) Math.max(v, 0);
        }
        int exp = 63 - Long.numberOfLeadingZeros(v);        // >= 3
        int sub = (int) ((v >>> (exp - 3)) & (SUB - 1));
        return (exp - 2) * SUB + sub;
    }

    private static long upperBound(int b) {
        if (b < SUB) {
            return b;
        }
        int exp = b / SUB + 2;
        int sub = b % SUB;
        return ((long) (SUB + sub + 1) << (exp - 3)) - 1;
    }

    /** Records one latency. */
    public void record(long nanos) {
        nanos = Math.max(0, nanos); // a clock that went back is no negative latency
        counts[bucket(nanos)]++;
        count++;
        long s = sum + nanos;
        sum = s < sum ? Long.MAX_VALUE : s; // saturates instead of wrapping negative
        max = Math.max(max, nanos);
    }

    /** Forgets everything recorded. */
    public void reset() {
        java.util.Arrays.fill(counts, 0);
        count = sum = max = 0;
    }

    /** The current figures. */
    public Snapshot snapshot() {
        return new Snapshot(count, count == 0 ? 0 : sum / count, quantile(0.50), quantile(0.99), max);
    }

    private long quantile(double q) {
        if (count == 0) {
            return 0;
        }
        long rank = (long) Math.ceil(q * count);
        long seen = 0;
        for (int b = 0; b < counts.length; b++) {
            seen += counts[b];
            if (seen >= rank) {
                return Math.min(upperBound(b), max);
            }
        }
        return max;
    }
}
