package io.sluice.bench;

import io.sluice.gguf.GGMLType;
import io.sluice.tensor.Formats;
import io.sluice.tensor.Matrix;
import io.sluice.tensor.Parallel;
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
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * One TinyLlama-sized matmul (5632 x 2048, the FFN up projection) per format: n = 1 is a decode
 * step (a GEMV, memory-bound once the weights leave the cache), n = 64 a prefill tile (GEMM).
 * impl = native uses the C kernels when present, java the Vector API dots on float activations.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class MatmulBench {
    @Param({"Q4_0", "Q8_0", "Q4_K", "Q6_K", "Q5_0", "F16"})
    public String type;

    @Param({"1", "64"})
    public int n;

    @Param({"native", "java"})
    public String impl;

    @Param({"1"})
    public int threads;

    private Matrix matrix;
    private float[] x, out;

    @Setup
    public void setup() {
        Parallel.setThreads(threads);
        GGMLType t = GGMLType.valueOf(type);
        int rows = 5632, cols = 2048;
        long rowBytes = t.byteSize(cols);
        MemorySegment w = Arena.ofAuto().allocate(rowBytes * rows, 64);
        SplittableRandom r = new SplittableRandom(1);
        float[] row = new float[cols];
        for (int i = 0; i < rows; i++) {
            for (int c = 0; c < cols; c++) row[c] = (float) r.nextGaussian();
            Formats.of(t).quantize(row, 0, cols, w, i * rowBytes);
        }
        Matrix m = new Matrix("bench", t, w, rows, cols);
        matrix = impl.equals("java") ? m.javaOnly() : m;
        x = new float[n * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        out = new float[n * rows];
    }

    @Benchmark
    public float[] matmul() {
        matrix.matmul(x, out, n);
        return out;
    }
}
