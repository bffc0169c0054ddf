package io.sluice.bench;

import io.sluice.tensor.Parallel;
import io.sluice.tensor.VectorMath;
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

import java.util.concurrent.TimeUnit;

/** The forward pass's small kernels at TinyLlama sizes, and the cost of one empty parallel operation. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class ElementwiseBench {
    private final float[] a = new float[5632], b = new float[5632], w = new float[2048], out = new float[2048];

    @Setup
    public void setup() {
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) Math.sin(i);
            b[i] = (float) Math.cos(i);
        }
        java.util.Arrays.fill(w, 1f);
    }

    @Benchmark
    public float dot64() {
        return VectorMath.dot(a, 0, b, 64, 64);
    }

    @Benchmark
    public float[] axpy64() {
        VectorMath.axpy(0.1f, a, 0, b, 64, 64);
        return b;
    }

    @Benchmark
    public float[] rmsnorm2048() {
        VectorMath.rmsnorm(out, a, 0, w, 2048, 1e-5f);
        return out;
    }

    @Benchmark
    public float[] swiglu5632() {
        float[] g = a.clone();
        VectorMath.swiglu(g, b, 0, g.length);
        return g;
    }

    /** Dispatch + join of the worker pool with an empty task: the fixed cost of each parallel matmul. */
    @Benchmark
    public void parallelEmpty() {
        Parallel.forRange(1024, (s, e) -> {
        });
    }
}
