package io.vhost4j.cli;

import io.vhost4j.cli.bench.Figure;
import io.vhost4j.cli.bench.Placement;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Prints benchmark figures as a table (Java, C, Java/C) or as JSON keyed by each figure's stable key. */
final class BenchReport {
    private BenchReport() {}

    private static Double round(Double v) {
        return v == null ? null : Math.round(v * 1000) / 1000.0;
    }

    /**
     * JSON: {@code {"kernel": ..., "placement": ..., "results": [{"key", "benchmark", "java", "c", "javaOverC",
     * "unit", "note"}]}}; {@code placement} says where the IOTLB and vIOMMU rounds ran their threads.
     */
    static void json(PrintWriter out, String kernel, Placement placement, List<Figure> figures) {
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("kernel", kernel);
        report.put("placement", placement.toString());
        report.put("results", figures.stream().map(f -> {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("key", f.key());
            r.put("benchmark", f.label());
            r.put("java", round(f.java()));
            r.put("c", round(f.c()));
            r.put("javaOverC", round(f.ratio()));
            r.put("unit", f.unit());
            if (f.note() != null) {
                r.put("note", f.note());
            }
            return r;
        }).toList());
        out.println(Json.write(report));
    }

    /** The table; the label column widens to the longest label, values are never cut. */
    static void table(PrintWriter out, Placement placement, List<Figure> figures) {
        out.println("IOTLB and vIOMMU rounds: " + placement);
        int width = Math.max("benchmark".length(), figures.stream().mapToInt(f -> f.label().length()).max().orElse(0));
        String row = "%-" + width + "s %12s %12s %8s  %s%s%n";
        out.printf(row, "benchmark", "Java", "C", "Java/C", "unit", "");
        for (Figure f : figures) {
            out.printf(row, f.label(), fmt(f.java()), fmt(f.c()), fmt(f.ratio()), f.unit(),
                    f.note() == null ? "" : "  (" + f.note() + ")");
        }
    }

    private static String fmt(Double d) {
        if (d == null) {
            return "-";
        }
        return d >= 100 ? String.format("%.0f", d) : String.format("%.3f", d);
    }
}
