package io.vhost4j.cli.bench;

/**
 * One benchmark figure: a Java value, and the plain-C value measured in the same run where there is one.
 *
 * @param key   stable machine-readable name (the JSON key), e.g. {@code ioctl.get_features.api}
 * @param label what the table shows
 * @param java  the Java side's value
 * @param c     the C side's value, or {@code null} where C has no twin (or was not loaded)
 * @param unit  e.g. {@code ns/call}
 * @param note  extra context, or {@code null}
 */
public record Figure(String key, String label, double java, Double c, String unit, String note) {
    /** A figure without a C twin. */
    public static Figure javaOnly(String key, String label, double java, String unit, String note) {
        return new Figure(key, label, java, null, unit, note);
    }

    /** Java over C, or {@code null} without a C value. */
    public Double ratio() {
        return c == null || c == 0 ? null : java / c;
    }
}
