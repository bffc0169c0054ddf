package io.sluice.model;

import io.sluice.gguf.GGMLType;
import io.sluice.gguf.GGUFFile;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Models written by our own writer (no fixtures needed): they load, and evaluating a prompt as
 * one batch gives the same logits as feeding it token by token through the paged KV cache, and
 * two sequences interleaved in one batch give the same logits as each alone.
 */
class SelfMadeModelTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @CsvSource({"tiny,q8_0", "tiny,q4_k_m", "tiny-qwen2,q4_0", "tiny-qwen2,f16"})
    void batchedEqualsIncrementalAndSequencesDoNotMix(String shape, String type) throws Exception {
        Path file = dir.resolve(shape + "-" + type + ".gguf");
        Synth.write(Synth.shape(shape), Synth.TypeSpec.parse(type), 7, file);
        try (Model m = Model.load(file)) {
            assertEquals(Synth.shape(shape).arch(), m.config().arch());
            int vocab = m.config().vocabSize();
            int[] a = randomTokens(23, vocab, 1), b = randomTokens(9, vocab, 2);
            float[] batched = LogitsConformanceTest.evaluate(m, a, GGMLType.F32);

            int[][] table = m.kvLayout().contiguousTables(2);
            float[] step = new float[vocab];
            try (KvStore kv = new KvStore(m.kvLayout(), 2 * table.length, 16, GGMLType.F32)) {
                for (int i = 0; i < a.length; i++) {
                    m.forward(Batch.single(new int[]{a[i]}, i, false, table), kv, step);
                    assertClose(batched, i * vocab, step, 0, vocab, 1e-3, "position " + i);
                }
            }

            // Both sequences in one batch, tokens interleaved, separate block tables.
            float[] aloneB = LogitsConformanceTest.evaluate(m, b, GGMLType.F32);
            int[][] four = m.kvLayout().contiguousTables(4), ta = new int[four.length][], tb = new int[four.length][];
            for (int g = 0; g < four.length; g++) {
                ta[g] = new int[]{four[g][0], four[g][1]};
                tb[g] = new int[]{four[g][3], four[g][2]};
            }
            try (KvStore kv = new KvStore(m.kvLayout(), 4 * four.length, 16, GGMLType.F32)) {
                Batch batch = new Batch(a.length + b.length, 2);
                int sa = batch.addSequence(ta), sb = batch.addSequence(tb);
                for (int i = 0; i < Math.max(a.length, b.length); i++) {
                    if (i < b.length) batch.add(b[i], i, sb, true);
                    if (i < a.length) batch.add(a[i], i, sa, true);
                }
                float[] mixed = new float[batch.size * vocab];
                m.forward(batch, kv, mixed);
                int row = 0;
                for (int i = 0; i < Math.max(a.length, b.length); i++) {
                    if (i < b.length) assertClose(aloneB, i * vocab, mixed, row++ * vocab, vocab, 1e-3, "seq b pos " + i);
                    if (i < a.length) assertClose(batched, i * vocab, mixed, row++ * vocab, vocab, 1e-3, "seq a pos " + i);
                }
            }
        }
        try (GGUFFile f = GGUFFile.open(file)) {
            assertTrue(f.tensor("blk.1.ffn_down.weight") != null);
        }
    }

    /** Every synth shape, scaled down (same architecture, layout, head ratios, keys and vocabulary kind). */
    static List<String> shapes() {
        return Synth.SHAPES.stream().map(Synth.Shape::name).toList();
    }

    static Synth.Shape small(Synth.Shape s) {
        int group = s.heads() / s.kvHeads(), kv = Math.min(2, s.kvHeads()), headDim = 32;
        java.util.Map<String, Object> keys = new java.util.LinkedHashMap<>(s.keys());
        keys.computeIfPresent("rope.dimension_count", (k, v) -> (Integer) v * headDim / s.headDim());
        keys.computeIfPresent("attention.sliding_window", (k, v) -> 8);
        keys.computeIfPresent("rope.scaling.original_context_length", (k, v) -> 16);
        Synth.Experts x = s.experts() == null ? null : new Synth.Experts(Math.min(8, s.experts().count()), 2, 96,
                s.experts().sharedFf() > 0 ? 64 : 0, s.experts().window() > 0 ? 6 : 0);
        return new Synth.Shape(s.name(), s.arch(), 128, 7, group * kv, kv, headDim, 96,
                new Synth.Vocab(s.vocab().model(), s.vocab().pre(), 700, s.vocab().addSpacePrefix()), 256, s.ropeTheta(), s.tied(), x, keys);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void everyShapeLoadsWithItsTokenizerAndAgreesBatchedAndIncremental(String name) throws Exception {
        Synth.Shape shape = small(Synth.shape(name));
        Path file = dir.resolve(name + ".gguf");
        Synth.write(shape, Synth.TypeSpec.parse("q8_0"), 3, file);
        try (Model m = Model.load(file)) {
            assertEquals(shape.arch(), m.config().arch());
            assertEquals(700, m.config().vocabSize());
            assertEquals(700, m.tokenizer().vocabSize());
            int[] ids = m.tokenizer().encode("Hello world, 123!", true, false);
            assertTrue(ids.length > 0 && java.util.Arrays.stream(ids).allMatch(t -> t >= 0 && t < 700), java.util.Arrays.toString(ids));
            int[] a = randomTokens(40, 700, 5);
            // A first pass warms the JIT: the Vector API's reductions and exp round differently once
            // compiled, and 8-bit activation quantization can turn that last bit into 0.03 in the logits.
            LogitsConformanceTest.evaluate(m, a, GGMLType.F32);
            float[] batched = LogitsConformanceTest.evaluate(m, a, GGMLType.F32);
            int[][] table = m.kvLayout().contiguousTables(3);
            float[] step = new float[700];
            try (KvStore kv = new KvStore(m.kvLayout(), 3 * table.length, 16, GGMLType.F32)) {
                for (int i = 0; i < a.length; i++) {
                    m.forward(Batch.single(new int[]{a[i]}, i, false, table), kv, step);
                    assertClose(batched, i * 700, step, 0, 700, 1e-3, name + " position " + i);
                }
            }
        }
    }

    /**
     * Past the row pool every token still has its own embedding and output row: copied rows tie
     * tokens' logits exactly, and greedy decoding then parts between engines on the tie's order.
     */
    @ParameterizedTest
    @CsvSource({"true", "false"})
    void vocabularyRowsAreAllDistinctPastThePool(boolean tied) throws Exception {
        int vocab = Synth.POOL_ROWS + 700;
        Synth.Shape shape = new Synth.Shape("wide-vocab", "qwen2", 64, 1, 2, 1, 32, 96, Synth.Vocab.bpe("qwen2", vocab), 256,
                1000000f, tied, null, java.util.Map.of());
        Path file = dir.resolve("wide-" + tied + ".gguf");
        Synth.write(shape, Synth.TypeSpec.parse("q4_0"), 5, file);
        try (GGUFFile f = GGUFFile.open(file)) {
            for (String name : tied ? List.of("token_embd.weight") : List.of("token_embd.weight", "output.weight")) {
                io.sluice.gguf.TensorInfo t = f.requireTensor(name);
                byte[] all = f.data(t).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                int rowBytes = all.length / vocab;
                java.util.Set<java.nio.ByteBuffer> rows = new java.util.HashSet<>();
                for (int r = 0; r < vocab; r++) rows.add(java.nio.ByteBuffer.wrap(all, r * rowBytes, rowBytes).slice());
                assertEquals(vocab, rows.size(), name + ": rows copied from the pool");
            }
        }
    }

    /** A shape cut to its first layers, same seed and type, is the full model's prefix tensor for tensor: a draft sharing its weights. */
    @org.junit.jupiter.api.Test
    void firstLayersShareTheFullModelsWeights() throws Exception {
        Synth.Shape full = small(Synth.shape("tinyllama-1.1b"));
        Path a = dir.resolve("full.gguf"), b = dir.resolve("cut.gguf");
        Synth.write(full, Synth.TypeSpec.parse("q4_0"), 9, a);
        Synth.write(full.withLayers(2), Synth.TypeSpec.parse("q4_0"), 9, b);
        try (GGUFFile f = GGUFFile.open(a); GGUFFile c = GGUFFile.open(b)) {
            assertEquals(2, c.requireInt("llama.block_count"));
            assertTrue(c.tensors().size() < f.tensors().size());
            for (String name : c.tensors().keySet()) {
                assertTrue(f.data(f.requireTensor(name)).mismatch(c.data(c.requireTensor(name))) < 0, name);
            }
        }
    }

    @org.junit.jupiter.api.Test
    void absurdBlockCountFailsClearlyBeforeAllocating() throws Exception {
        Path file = dir.resolve("tiny.gguf"), bad = dir.resolve("bad.gguf");
        Synth.write(Synth.shape("tiny"), Synth.TypeSpec.parse("q8_0"), 1, file);
        try (GGUFFile f = GGUFFile.open(file)) {
            io.sluice.gguf.GGUFWriter w = io.sluice.gguf.GGUFWriter.copyOf(f);
            w.putU32("llama.block_count", Integer.MAX_VALUE);
            w.write(bad);
        }
        io.sluice.gguf.GGUFException e = org.junit.jupiter.api.Assertions.assertThrows(io.sluice.gguf.GGUFException.class, () -> Model.load(bad));
        assertTrue(e.getMessage().contains("block_count 2147483647"), e.getMessage());
    }

    static int[] randomTokens(int n, int vocab, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] t = new int[n];
        t[0] = 1;
        for (int i = 1; i < n; i++) t[i] = 3 + r.nextInt(vocab - 3);
        return t;
    }

    static void assertClose(float[] want, int wOff, float[] got, int gOff, int n, double tol, String what) {
        double max = 0;
        for (int i = 0; i < n; i++) max = Math.max(max, Math.abs(want[wOff + i] - got[gOff + i]));
        assertTrue(max <= tol, what + ": max diff " + max);
    }
}
