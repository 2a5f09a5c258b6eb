package io.vhost4j.bench;

import io.vhost4j.Access;
import io.vhost4j.IotlbMessage;
import io.vhost4j.internal.sys.IotlbWire;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

/**
 * Encoding and decoding one 72-byte IOTLB message: the manager's primitive path ({@link IotlbWire}, what a miss
 * costs) and the public records ({@link IotlbMessage}, what a VMM writing its own messages uses).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class WireBenchmark {
    private final MemorySegment buf = Arena.ofAuto().allocate(IotlbWire.SIZE, 8);
    private long iova = 0x10_0000_0000L;

    /** A valid v2 UPDATE in the buffer, for the decoders. */
    @Setup
    public void message() {
        IotlbWire.put(buf, true, 0, 2, iova, 4096, 0x7f00_0000_0000L, 3);
    }

    /** The manager's UPDATE: zero and fill the message in place. */
    @Benchmark
    public MemorySegment encodeUpdateWire() {
        iova = (iova + 4096) & 0xFF_FFFF_F000L;
        IotlbWire.put(buf, true, 0, 2, iova, 4096, 0x7f00_0000_0000L + iova, 3);
        return buf;
    }

    /** The manager's MISS: read type, iova and permission. */
    @Benchmark
    public long decodeMissWire() {
        return IotlbWire.type(buf) + IotlbWire.iova(buf) + IotlbWire.perm(buf);
    }

    /** The public API's UPDATE: build the (validated) record, encode it. */
    @Benchmark
    public MemorySegment encodeUpdateRecord() {
        iova = (iova + 4096) & 0xFF_FFFF_F000L;
        IotlbMessage.update(iova, 4096, 0x7f00_0000_0000L + iova, Access.RW).encode(buf, true);
        return buf;
    }

    /** The public API's decode into a record. */
    @Benchmark
    public IotlbMessage decodeRecord() {
        return IotlbMessage.decode(buf);
    }
}
