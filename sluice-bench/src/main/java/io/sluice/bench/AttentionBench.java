package io.sluice.bench;

import io.sluice.gguf.GGMLType;
import io.sluice.model.Batch;
import io.sluice.model.KvLayout;
import io.sluice.model.KvStore;
import io.sluice.model.nn.Attention;
import io.sluice.tensor.Parallel;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * One layer's attention (KV write included) over the paged cache: {@code tokens} query tokens of
 * one sequence after {@code depth} positions of context. tokens = 512 is a prefill batch (the
 * query-tiled kernel), tokens = 1 a decode step (split across the threads at depth). Shapes:
 * tinyllama (32 heads, 4 KV heads of 64), qwen2.5-0.5b (14/2 of 64), qwen3-0.6b (16/8 of 128).
 * impl = native is attention.c where the CPU has AVX512, java the Java tile loop.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class AttentionBench {
    @Param({"tinyllama", "qwen2.5", "qwen3"})
    public String shape;

    @Param({"F16", "Q8_0", "Q4_0", "IQ4_NL"})
    public String kvType;

    @Param({"512:0", "512:4096", "1:2048", "1:16384"})
    public String tokensAtDepth;

    @Param({"native"})
    public String impl;

    @Param({"2"})
    public int threads;

    private Attention attention;
    private Attention.Workspace ws;
    private KvStore kv;
    private Batch batch;
    private float[] q, k, v, out;

    @Setup(Level.Trial)
    public void setup() {
        Parallel.setThreads(threads);
        int heads, kvHeads, dim;
        switch (shape) {
            case "tinyllama" -> { heads = 32; kvHeads = 4; dim = 64; }
            case "qwen2.5" -> { heads = 14; kvHeads = 2; dim = 64; }
            case "qwen3" -> { heads = 16; kvHeads = 8; dim = 128; }
            default -> throw new IllegalArgumentException("shape " + shape);
        }
        String[] td = tokensAtDepth.split(":");
        int tokens = Integer.parseInt(td[0]), depth = Integer.parseInt(td[1]), bs = 16;
        Attention.Options o = Attention.Options.standard(heads, kvHeads, dim);
        attention = new Attention(0, o);
        ws = new Attention.Workspace();
        ws.useNative(impl.equals("native"));
        int len = depth + tokens, blocks = (len + bs - 1) / bs;
        kv = new KvStore(KvLayout.uniform(1, kvHeads, dim), blocks, bs, GGMLType.valueOf(kvType));
        int[] table = new int[blocks];
        for (int i = 0; i < blocks; i++) table[i] = i;
        SplittableRandom r = new SplittableRandom(1);
        float[] kr = new float[o.kvDim()], vr = new float[o.kvDim()];
        for (int p = 0; p < depth; p++) {
            for (int i = 0; i < kr.length; i++) {
                kr[i] = (float) r.nextGaussian();
                vr[i] = (float) r.nextGaussian();
            }
            kv.write(0, table[p / bs], p % bs, kr, 0, vr, 0);
        }
        batch = new Batch(tokens, 1);
        int s = batch.addSequence(table);
        for (int t = 0; t < tokens; t++) batch.add(0, depth + t, s, true);
        q = gaussian(tokens * o.qDim(), r);
        k = gaussian(tokens * o.kvDim(), r);
        v = gaussian(tokens * o.kvDim(), r);
        out = new float[tokens * o.qDim()];
    }

    @TearDown(Level.Trial)
    public void close() {
        kv.close();
    }

    private static float[] gaussian(int n, SplittableRandom r) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    @Benchmark
    public float[] layer() {
        attention.forward(batch, kv, q, k, v, out, ws);
        return out;
    }
}
