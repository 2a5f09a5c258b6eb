package io.vhost4j.cli.bench;

import java.util.Arrays;
import java.util.List;
import java.util.function.ToDoubleFunction;

/** Repeated measurements of one quantity, summarised by their median and their range. */
public final class Samples {
    private final double[] values;
    private int count;

    /** Room for {@code rounds} values. */
    public Samples(int rounds) {
        values = new double[rounds];
    }

    /** One figure's values over {@code runs} (one typed result a round). */
    public static <T> Samples of(List<T> runs, ToDoubleFunction<T> figure) {
        Samples s = new Samples(runs.size());
        runs.forEach(r -> s.add(figure.applyAsDouble(r)));
        return s;
    }

    /** The median of one figure over {@code runs}; {@code null} when there are none (no C library, say). */
    public static <T> Double medianOf(List<T> runs, ToDoubleFunction<T> figure) {
        return runs == null || runs.isEmpty() ? null : of(runs, figure).median();
    }

    /** Records the next round's value. */
    public void add(double v) {
        values[count++] = v;
    }

    /** The median of the values recorded (the upper one of an even count); NaN if none. */
    public double median() {
        if (count == 0) {
            return Double.NaN;
        }
        double[] s = Arrays.copyOf(values, count);
        Arrays.sort(s);
        return s[count / 2];
    }

    /** The smallest and the largest of the values recorded: how far apart the rounds behind a median were. */
    public record Range(double min, double max) {
        @Override
        public String toString() {
            return format(min) + "–" + format(max);
        }

        private static String format(double v) {
            return Math.abs(v) >= 100 ? String.format(java.util.Locale.ROOT, "%.0f", v)
                    : String.format(java.util.Locale.ROOT, "%.3g", v);
        }
    }

    /** The range of the values recorded; NaN to NaN if none. */
    public Range range() {
        if (count == 0) {
            return new Range(Double.NaN, Double.NaN);
        }
        double min = values[0], max = values[0];
        for (int i = 1; i < count; i++) {
            min = Math.min(min, values[i]);
            max = Math.max(max, values[i]);
        }
        return new Range(min, max);
    }
}
