package io.vhost4j.cli.bench;

import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedMethod;
import jdk.jfr.consumer.RecordedObject;
import jdk.jfr.consumer.RecordingStream;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The JIT's and the profiler's view of a benchmark, from JFR events streamed while it runs: which methods of the
 * miss path C2 has compiled (as a compilation of their own, OSR included, or inlined into one) and when, so that
 * a warm-up can last until they are and a measured window can be shown free of their compilation; and, while
 * sampling is on, where one thread's time goes (execution samples while it runs Java, native-method samples while
 * it is in a system call).
 */
public final class Profile implements AutoCloseable {
    /** The methods that serve a miss, as {@code SimpleClassName.method}. */
    static final List<String> MISS_PATH = List.of("IotlbManager.processReady", "ManagedDevice.drain",
            "ManagedDevice.map", "MissResolver.resolve", "ManagedDevice.writeUpdate", "ManagedDevice.recordAnswer",
            "IotlbChannel.read", "IotlbChannel.write", "Sys.read", "Sys.write",
            "IotlbWire.put", "LatencyHistogram.record");
    /** What the guest-like vIOMMU workload adds: its translator and DMA mapper, coalescing and prefetch. */
    static final List<String> VIOMMU_PATH = List.of("VirtualIommu.translate", "VirtualIommu.map",
            "VirtualIommu.unmap", "MissResolver.coalesce", "MissResolver.beyond", "ManagedDevice.prefetch");

    /**
     * Where a sampled thread's time went.
     *
     * @param samples     its samples while sampling was on
     * @param nativeShare the share of them taken in native code (system calls)
     * @param hottest     its most frequent top frames ({@code name share%}), Java and native together
     */
    record Samples(int samples, double nativeShare, List<String> hottest) {}

    /**
     * Every method any profile of this JVM saw C2 compile (own or inlined), with its first time: a later profile
     * (the vIOMMU warm-up after the miss bench) does not wait for compilations made before it started. The bench
     * command keeps one profile open from its start ({@link #watchCompilations()}), so that compilations during
     * the parts before the IOTLB ones (the data path compiles {@code Sys.write}) are seen too.
     */
    private static final Map<String, Instant> SEEN = new ConcurrentHashMap<>();
    private final RecordingStream stream = new RecordingStream();
    private final Map<Integer, List<String>> inlined = new ConcurrentHashMap<>(); // compile id -> methods inlined
    private final Map<String, AtomicInteger> frames = new ConcurrentHashMap<>();
    private final AtomicInteger samples = new AtomicInteger(), inNative = new AtomicInteger();
    private volatile String sampledThread;
    private final List<String> watched;

    private Profile(List<String> watched) {
        this.watched = watched;
        stream.enable("jdk.Compilation").withThreshold(Duration.ZERO);
        stream.enable("jdk.CompilerInlining");
        stream.onEvent("jdk.Compilation", e -> {
            List<String> in = inlined.remove(e.getInt("compileId"));
            if (e.getInt("compileLevel") == 4 && e.getBoolean("succeded")) {
                Instant t = e.getEndTime();
                SEEN.merge(name(e.getValue("method")), t, (a, b) -> a.isBefore(b) ? a : b);
                for (String m : in == null ? List.<String>of() : in) {
                    SEEN.merge(m, t, (a, b) -> a.isBefore(b) ? a : b);
                }
            }
        });
        stream.onEvent("jdk.CompilerInlining", e -> {
            if (e.getBoolean("succeeded")) {
                RecordedObject callee = e.getValue("callee");
                String t = callee.getString("type");
                inlined.computeIfAbsent(e.getInt("compileId"), k -> new CopyOnWriteArrayList<>())
                        .add(t.substring(t.lastIndexOf('/') + 1) + "." + callee.getString("name"));
            }
        });
        stream.onEvent("jdk.ExecutionSample", e -> sample(e, false));
        stream.onEvent("jdk.NativeMethodSample", e -> sample(e, true));
    }

    /** A profile that watches nothing: open for a whole bench run, it records every C2 compilation in it. */
    public static Profile watchCompilations() {
        return start(List.of());
    }

    /**
     * Starts streaming compilation events (before any warm-up, so that every compilation is seen), watching
     * {@code methods} ({@code SimpleClassName.method}).
     */
    static Profile start(List<String> methods) {
        Profile p = new Profile(methods);
        p.stream.startAsync();
        return p;
    }

    private void sample(RecordedEvent e, boolean nativeSample) {
        String thread = sampledThread;
        if (thread == null || e.getThread("sampledThread") == null
                || !thread.equals(e.getThread("sampledThread").getJavaName())
                || e.getStackTrace() == null || e.getStackTrace().getFrames().isEmpty()) {
            return;
        }
        samples.incrementAndGet();
        if (nativeSample) {
            inNative.incrementAndGet();
        }
        // In a system call the top frames are the downcall's generated stubs: name the library frame that made it.
        String top = null;
        for (var f : e.getStackTrace().getFrames()) {
            String type = f.getMethod().getType().getName();
            if (!nativeSample || type.startsWith("io.vhost4j.")) {
                top = name(f.getMethod());
                break;
            }
        }
        frames.computeIfAbsent((nativeSample ? "[native] " : "") + (top == null ? "other" : top),
                k -> new AtomicInteger()).incrementAndGet();
    }

    /**
     * When each watched method first ran in C2 code, own or inlined, as this profile or an earlier one of this JVM
     * saw it (absent: not yet, as far as delivered).
     */
    Map<String, Instant> compiled() {
        Map<String, Instant> first = new HashMap<>();
        for (String m : watched) {
            Instant t = SEEN.get(m);
            if (t != null) {
                first.put(m, t);
            }
        }
        return first;
    }

    /** The watched methods not (yet) in C2 code. */
    List<String> notCompiled() {
        Map<String, Instant> done = compiled();
        return watched.stream().filter(m -> !done.containsKey(m)).toList();
    }

    /** The watched methods whose first C2 code came inside {@code [from, to]}. */
    List<String> compiledWithin(Instant from, Instant to) {
        return compiled().entrySet().stream()
                .filter(e -> !e.getValue().isBefore(from) && !e.getValue().isAfter(to)).map(Map.Entry::getKey)
                .sorted().toList();
    }

    /** Samples {@code thread} from now on (every 10 ms, JFR's execution and native-method samples). */
    void sample(String thread) {
        sampledThread = thread;
        stream.enable("jdk.ExecutionSample").withPeriod(Duration.ofMillis(10));
        stream.enable("jdk.NativeMethodSample").withPeriod(Duration.ofMillis(10));
    }

    /** Stops sampling and says what the samples show. */
    Samples stopSampling() throws InterruptedException {
        Thread.sleep(1500); // JFR delivers events about once a second
        sampledThread = null;
        stream.disable("jdk.ExecutionSample");
        stream.disable("jdk.NativeMethodSample");
        int total = samples.get();
        List<String> hottest = frames.entrySet().stream()
                .sorted(Comparator.comparingInt((Map.Entry<String, AtomicInteger> f) -> f.getValue().get()).reversed())
                .limit(6).map(f -> String.format("%s %.0f%%", f.getKey(), 100.0 * f.getValue().get() / total)).toList();
        return new Samples(total, total == 0 ? 0 : inNative.get() / (double) total, hottest);
    }

    private static String name(RecordedMethod m) {
        String type = m.getType().getName();
        return type.substring(type.lastIndexOf('.') + 1) + "." + m.getName();
    }

    @Override
    public void close() {
        stream.close();
    }
}
