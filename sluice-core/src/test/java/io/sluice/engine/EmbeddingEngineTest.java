package io.sluice.engine;

import io.sluice.Fixtures;
import io.sluice.model.EmbeddingModel;
import io.sluice.model.EmbeddingSynth;
import io.sluice.model.Synth;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The embedding engine: concurrent inputs share passes within the token budget and give what
 * each gives alone; refusals come at submit; a shut-down engine fails what is queued. And the
 * Embedder's vectors: unit length, Matryoshka truncation is the re-normalised prefix, refused for
 * widths the file does not list, binary encodings are the sign bits.
 */
class EmbeddingEngineTest {
    @TempDir
    Path dir;

    private static EngineConfig config(int budget, int seqs, int queue) {
        return new EngineConfig(0, 0, 16, io.sluice.gguf.GGMLType.F16, budget, seqs, queue, 0);
    }

    /** Inputs of 3..40 tokens, all different. */
    private static List<int[]> inputs(int count) {
        List<int[]> in = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int[] t = new int[3 + (i * 7) % 38];
            t[0] = 2;
            for (int j = 1; j < t.length - 1; j++) t[j] = 5 + (i * 31 + j * 17) % 500;
            t[t.length - 1] = 3;
            in.add(t);
        }
        return in;
    }

    @Test
    void concurrentInputsSharePassesAndEqualTheirResultsAlone() throws Exception {
        List<int[]> in = inputs(48);
        try (EmbeddingModel m = EmbeddingModel.load(Fixtures.model("tiny-bert-q8_0.gguf"))) {
            List<float[]> alone = new ArrayList<>();
            try (EmbeddingEngine e = new EmbeddingEngine(m, config(512, 64, 1024))) {
                for (int[] t : in) alone.add(e.submit(t).get());
                assertEquals(in.size(), e.stats().passes(), "one at a time, one pass each");
            }
            try (EmbeddingEngine e = new EmbeddingEngine(m, config(256, 64, 1024)); ExecutorService pool = Executors.newFixedThreadPool(8)) {
                CountDownLatch go = new CountDownLatch(1);
                List<Future<float[]>> got = new ArrayList<>();
                for (int[] t : in) got.add(pool.submit(() -> {
                    go.await();
                    return e.submit(t).get();
                }));
                go.countDown();
                for (int i = 0; i < in.size(); i++) {
                    float[] a = alone.get(i), b = got.get(i).get();
                    for (int k = 0; k < a.length; k++) assertEquals(a[k], b[k], 1e-5f * Math.max(1, Math.abs(a[k])), "input " + i);
                }
                EmbeddingEngine.Stats st = e.stats();
                assertEquals(in.size(), st.inputs());
                assertEquals(in.stream().mapToInt(t -> t.length).sum(), st.tokens());
                // 48 inputs of ~1000 tokens in passes of at most 256 tokens: shared, but never over budget.
                assertTrue(st.passes() < in.size() && st.passes() >= 4, "passes " + st.passes());
            }
        }
    }

    @Test
    void refusalsAtSubmitAndShutdown() throws Exception {
        try (EmbeddingModel m = EmbeddingModel.load(Fixtures.model("tiny-bert-q8_0.gguf"))) {
            EmbeddingEngine e = new EmbeddingEngine(m, config(512, 4, 0));
            EngineException tooLong = assertThrows(EngineException.class, () -> e.submit(new int[513]));
            assertEquals(EngineException.Kind.CONTEXT_TOO_LONG, tooLong.kind());
            assertEquals(EngineException.Kind.INVALID_REQUEST, assertThrows(EngineException.class, () -> e.submit(new int[]{2, 512})).kind());
            assertEquals(EngineException.Kind.INVALID_REQUEST, assertThrows(EngineException.class, () -> e.submit(new int[0])).kind());
            // A burst beyond maxSeqs + maxQueue is refused, not queued without bound.
            List<CompletableFuture<float[]>> burst = new ArrayList<>();
            EngineException full = null;
            for (int i = 0; i < 200 && full == null; i++) {
                try {
                    burst.add(e.submit(inputs(1).getFirst()));
                } catch (EngineException x) {
                    full = x;
                }
            }
            assertTrue(full != null && full.kind() == EngineException.Kind.QUEUE_FULL, "a full queue refuses");
            e.close();
            for (CompletableFuture<float[]> f : burst) {
                try {
                    assertEquals(m.outputDim(), f.get().length);
                } catch (ExecutionException x) {
                    assertInstanceOf(EngineException.class, x.getCause());
                }
            }
            assertEquals(EngineException.Kind.SHUTDOWN, assertThrows(EngineException.class, () -> e.submit(new int[]{2, 3})).kind());
        }
    }

    @Test
    void matryoshkaAndBinaryVectors() throws Exception {
        Path file = dir.resolve("gemma-embedding.gguf");
        EmbeddingSynth.write(EmbeddingSynth.find("tiny-gemma-embedding"), Synth.TypeSpec.parse("q8_0"), 7, file);
        try (Embedder e = Embedder.open(file)) {
            assertEquals(256, e.dimensions());
            float[] full = e.embed("the quick brown fox");
            double norm = 0;
            for (float x : full) norm += x * x;
            assertEquals(1, norm, 1e-5);
            for (int k : new int[]{64, 128}) {
                float[] cut = e.embed("the quick brown fox", k);
                float[] want = EmbeddingVectors.normalized(full, k);
                assertEquals(k, cut.length);
                for (int i = 0; i < k; i++) assertEquals(want[i], cut[i], 1e-6);
            }
            IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> e.embed("x", 100));
            assertTrue(bad.getMessage().contains("[64, 128, 256]"), bad.getMessage());
            assertThrows(IllegalArgumentException.class, () -> e.embed("x", 0));
            assertThrows(IllegalArgumentException.class, () -> e.embed("x", 257));

            int[] u = EmbeddingVectors.ubinaryValues(full), b = EmbeddingVectors.binary(full);
            assertEquals(32, u.length);
            for (int i = 0; i < full.length; i++) {
                int bit = (u[i / 8] >> (7 - i % 8)) & 1;
                assertEquals(full[i] > 0 ? 1 : 0, bit, "bit " + i);
            }
            for (int i = 0; i < u.length; i++) assertEquals(u[i] - 128, b[i]);
            int[] q = EmbeddingVectors.int8(full);
            for (int i = 0; i < full.length; i++) assertEquals(Math.round(full[i] * 127), q[i]);
            // Batched equals alone through the Embedder too.
            List<float[]> many = e.embed(List.of("a", "the quick brown fox", "zebra crossing"));
            assertArrayEquals(full, many.get(1), 1e-5f);
        }
    }
}
