package io.sluice.model;

import io.sluice.Fixtures;
import io.sluice.gguf.GGUFException;
import io.sluice.gguf.GGUFWriter;
import io.sluice.model.nn.Pooling;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Loading embedding models: pooling from the file or the caller, every bad embedding key a clear
 * error naming the file and key, encoders refused as generators and generators without a pooling
 * refused as embedders, tensors that contradict the metadata named, and batches that are not
 * whole sequences refused.
 */
class EmbeddingModelTest {
    @TempDir
    Path dir;

    private Path edited(String fixture, Consumer<GGUFWriter> edit) throws Exception {
        return FixtureRewriter.rewrite(fixture, dir.resolve("edited-" + fixture), edit, FixtureRewriter.SAME);
    }

    @Test
    void poolingComesFromTheFileUnlessOverridden() throws Exception {
        List<int[]> seqs = EmbeddingConformanceTest.sequences();
        Path file = Fixtures.model("tiny-bert-f32.gguf");
        try (EmbeddingModel mean = EmbeddingModel.load(file); EmbeddingModel cls = EmbeddingModel.load(file, Pooling.CLS);
             EmbeddingModel last = EmbeddingModel.load(file, Pooling.LAST)) {
            assertEquals(Pooling.MEAN, mean.pooling());
            assertEquals(Pooling.CLS, cls.pooling());
            float[] m = EmbeddingConformanceTest.encode(mean, seqs)[2], c = EmbeddingConformanceTest.encode(cls, seqs)[2],
                    l = EmbeddingConformanceTest.encode(last, seqs)[2];
            assertTrue(EmbeddingConformanceTest.cosine(m, c) < 0.99 && EmbeddingConformanceTest.cosine(c, l) < 0.99, "poolings must differ");
            // NONE gives every token's state: CLS is the first of them, LAST the last, MEAN their mean.
            try (EmbeddingModel none = EmbeddingModel.load(file, Pooling.NONE)) {
                int[] toks = seqs.get(2);
                Batch b = new Batch(toks.length, 1);
                int s = b.addSequence(null);
                for (int i = 0; i < toks.length; i++) b.add(toks[i], i, s, false);
                float[] all = new float[toks.length * none.outputDim()];
                none.encode(b, all);
                int d = none.outputDim();
                float[] avg = new float[d];
                for (int t = 0; t < toks.length; t++) for (int i = 0; i < d; i++) avg[i] += all[t * d + i] / toks.length;
                for (int i = 0; i < d; i++) {
                    assertEquals(c[i], all[i], 1e-6);
                    assertEquals(l[i], all[(toks.length - 1) * d + i], 1e-6);
                    assertEquals(m[i], avg[i], 1e-5);
                }
            }
        }
    }

    @Test
    void badEmbeddingMetadataIsOneClearError() throws Exception {
        Object[][] cases = {
                {(Consumer<GGUFWriter>) w -> w.putU32("bert.pooling_type", 9), "bert.pooling_type"},
                {(Consumer<GGUFWriter>) w -> w.putArray("bert.matryoshka_dimensions", new int[]{0, 128}), "bert.matryoshka_dimensions"},
                {(Consumer<GGUFWriter>) w -> w.putArray("bert.matryoshka_dimensions", new int[]{64, 257}), "bert.matryoshka_dimensions"},
                {(Consumer<GGUFWriter>) w -> w.putString("bert.matryoshka_dimensions", "64,128"), "bert.matryoshka_dimensions"},
                {(Consumer<GGUFWriter>) w -> w.putArray("bert.classifier.output_labels", new int[]{1, 2}), "bert.classifier.output_labels"},
                {(Consumer<GGUFWriter>) w -> w.putF32("bert.attention.layer_norm_epsilon", -1f), "bert.attention.layer_norm_epsilon"},
                {(Consumer<GGUFWriter>) w -> w.putU32("bert.context_length", 1024), "position_embd.weight"},
                {(Consumer<GGUFWriter>) w -> w.putU32("bert.pooling_type", 4), "cls.output.weight"}};
        for (Object[] c : cases) {
            @SuppressWarnings("unchecked") Path p = edited("tiny-bert-q8_0.gguf", (Consumer<GGUFWriter>) c[0]);
            GGUFException e = assertThrows(GGUFException.class, () -> EmbeddingModel.load(p).close(), (String) c[1]);
            assertTrue(e.getMessage().contains(p.toString()) && e.getMessage().contains((String) c[1]), c[1] + ": " + e.getMessage());
        }
    }

    @Test
    void trainedWidthsAreRead() throws Exception {
        Path p = edited("tiny-nomic-bert-q8_0.gguf", w -> w.putArray("nomic-bert.matryoshka_dimensions", new int[]{128, 64, 256}));
        try (EmbeddingModel m = EmbeddingModel.load(p)) {
            assertArrayEquals(new int[]{64, 128, 256}, m.matryoshkaDimensions());
        }
        try (EmbeddingModel m = EmbeddingModel.load(Fixtures.model("tiny-nomic-bert-q8_0.gguf"))) {
            assertEquals(0, m.matryoshkaDimensions().length);
        }
    }

    @Test
    void encodersDoNotGenerateAndGeneratorsNeedAPooling() {
        Path bert = Fixtures.model("tiny-bert-f32.gguf");
        GGUFException e = assertThrows(GGUFException.class, () -> Model.load(bert).close());
        assertTrue(e.getMessage().contains("embedding model"), e.getMessage());
        Path llama = Fixtures.model("tiny-llama-f32.gguf");
        IllegalArgumentException g = assertThrows(IllegalArgumentException.class, () -> EmbeddingModel.load(llama).close());
        assertTrue(g.getMessage().contains("llama.pooling_type") && g.getMessage().contains("generation model"), g.getMessage());
        try (EmbeddingModel m = EmbeddingModel.load(llama, Pooling.MEAN)) {
            assertEquals(m.config().dim(), m.outputDim());
            float[] v = EmbeddingConformanceTest.encode(m, List.of(new int[]{1, 5, 9, 13}))[0];
            assertTrue(Float.isFinite(v[0]) && v.length == m.config().dim());
        }
    }

    @Test
    void batchesMustHoldWholeContiguousSequences() {
        try (EmbeddingModel m = EmbeddingModel.load(Fixtures.model("tiny-bert-q8_0.gguf"))) {
            Batch partial = new Batch(4, 1);
            int s = partial.addSequence(null);
            partial.add(5, 3, s, false);
            assertThrows(IllegalArgumentException.class, () -> m.encode(partial, new float[256]));
            Batch interleaved = new Batch(4, 2);
            int a = interleaved.addSequence(null), b = interleaved.addSequence(null);
            interleaved.add(5, 0, a, false);
            interleaved.add(6, 0, b, false);
            interleaved.add(7, 1, a, false);
            assertThrows(IllegalArgumentException.class, () -> m.encode(interleaved, new float[512]));
            Batch outside = new Batch(2, 1);
            int o = outside.addSequence(null);
            outside.add(512, 0, o, false);
            assertThrows(IllegalArgumentException.class, () -> m.encode(outside, new float[256]));
        }
    }
}
