package io.vhost4j.bench;

import io.vhost4j.VhostException;
import io.vhost4j.VhostNet;
import io.vhost4j.cli.bench.BareIoctl;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * {@code ioctl(VHOST_GET_FEATURES)} on {@code /dev/vhost-net}: the public API ({@link VhostNet#getFeatures()}:
 * owned fd with in-flight tracking, errno capture, a {@code Features} value) against the bare FFM downcall, the floor
 * of any Java ioctl. Needs {@code /dev/vhost-net} (ci/jmh runs it in the kernel guest).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class IoctlBenchmark {
    private VhostNet net;
    private BareIoctl bare;
    private int fd;

    @Setup
    public void open() throws VhostException {
        net = VhostNet.open();
        bare = new BareIoctl();
        fd = net.fd();
        if (bare.get(fd) != net.getFeatures().bits()) {
            throw new IllegalStateException("the bare ioctl does not read what getFeatures() reads");
        }
    }

    @TearDown
    public void close() {
        bare.close();
        net.close();
    }

    /** The public API. */
    @Benchmark
    public long api() throws VhostException {
        return net.getFeatures().bits();
    }

    /** The bare downcall: no errno capture, no fd ownership, no value object. */
    @Benchmark
    public int bareDowncall() {
        return bare.call(fd);
    }
}
