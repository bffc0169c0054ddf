package io.sluice.bench;

import io.sluice.tensor.Parallel;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;

/**
 * Memory read bandwidth, the roofline for decoding: streams a 2 GiB off-heap buffer (far beyond
 * the caches) with vector loads on {@code threads} threads. GB/s = 2.147 / (seconds per op).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:MaxDirectMemorySize=3g"})
public class ReadBandwidthBench {
    private static final VectorSpecies<Long> S = LongVector.SPECIES_PREFERRED;
    private static final long BYTES = 2L << 30;

    @Param({"1", "2"})
    public int threads;

    private MemorySegment buf;

    @Setup
    public void setup() {
        Parallel.setThreads(threads);
        buf = Arena.ofAuto().allocate(BYTES, 4096);
        buf.fill((byte) 1);
    }

    @Benchmark
    public long read() {
        long[] sums = new long[threads * 16];
        long chunk = 1 << 20;
        int chunks = (int) (BYTES / chunk);
        Parallel.forRange(chunks, (s, e) -> {
            LongVector acc = LongVector.zero(S);
            for (long off = s * chunk; off < e * chunk; off += S.vectorByteSize()) {
                acc = acc.add(LongVector.fromMemorySegment(S, buf, off, ByteOrder.LITTLE_ENDIAN));
            }
            sums[Parallel.workerIndex() * 16] += acc.reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
        });
        long total = 0;
        for (long v : sums) total += v;
        return total;
    }
}
