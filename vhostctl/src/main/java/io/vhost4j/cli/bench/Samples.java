package io.vhost4j.cli.bench;

import java.util.Arrays;

/** Repeated measurements of one quantity, summarised by their median. */
public final class Samples {
    private final double[] values;
    private int count;

    /** Room for {@code rounds} values. */
    public Samples(int rounds) {
        values = new double[rounds];
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
}
