package io.sluice.model;

import io.sluice.engine.Embedder;
import io.sluice.engine.EmbeddingEngine;
import io.sluice.gguf.GGMLType;
import io.sluice.model.nn.Pooling;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The embedding architectures beyond the fixtures, on models written by {@link EmbeddingSynth}
 * (seed 42, f32) against llama.cpp (c2b1518fd, CPU) on the same files: jina-bert-v2 (ALiBi, Q/K
 * LayerNorms, attn_norm_2, fused GeGLU), gemma-embedding (symmetric window of 6 on alternate
 * layers, dense_2/dense_3), qwen3 as an embedder (causal, last-token pooling), and the rerankers
 * (a bert cross-encoder with its tanh head, qwen3 with yes/no rows and a softmax).
 */
class EmbeddingArchitecturesTest {
    @TempDir
    Path dir;

    /** The fixtures' three embd-tokens sequences and 40 ids (7i+11) mod 500 + 5, so windows and positions matter. */
    static List<int[]> sequences() {
        List<int[]> s = new ArrayList<>(List.of(new int[]{2, 209, 210, 37, 163, 3}, new int[]{2, 109, 211, 212, 214, 215, 232, 37, 224, 225, 221, 3},
                new int[]{2, 117, 147, 16, 143, 159, 157, 111, 109, 220, 144, 109, 229, 114, 150, 18, 3}));
        int[] long40 = new int[40];
        for (int i = 0; i < 40; i++) long40[i] = (7 * i + 11) % 500 + 5;
        s.add(long40);
        return s;
    }

    private Path synth(String shape) throws IOException {
        Path file = dir.resolve(shape + ".gguf");
        EmbeddingSynth.write(EmbeddingSynth.find(shape), Synth.TypeSpec.parse("f32"), 42, file);
        return file;
    }

    /**
     * src/test/resources/llamacpp/SHAPE-f32.embd4.f32: llama-server --embeddings -fa off -ctk f32
     * -ctv f32 on the file (flash attention would round K and V to F16), each sequence of
     * {@link #sequences} posted alone as token ids with embd_normalize -1 (pooled, not normalised):
     * 4 × 256 float32. A change to EmbeddingSynth's random weights changes these files.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-jina-bert-v2", "tiny-gemma-embedding", "tiny-qwen3-embedding"})
    void synthesizedEmbeddersMatchLlamaCpp(String shape) throws IOException {
        float[] want;
        try (InputStream in = getClass().getResourceAsStream("/llamacpp/" + shape + "-f32.embd4.f32")) {
            ByteBuffer b = ByteBuffer.wrap(in.readAllBytes()).order(ByteOrder.LITTLE_ENDIAN);
            want = new float[b.remaining() / 4];
            b.asFloatBuffer().get(want);
        }
        List<int[]> seqs = sequences();
        try (EmbeddingModel m = EmbeddingModel.load(synth(shape), null, GGMLType.F32)) {
            assertEquals(EmbeddingSynth.find(shape).pooling(), m.pooling());
            int dim = m.outputDim();
            float[][] together = EmbeddingConformanceTest.encode(m, seqs);
            for (int s = 0; s < seqs.size(); s++) {
                float[] ref = Arrays.copyOfRange(want, s * dim, (s + 1) * dim);
                for (float[] got : new float[][]{EmbeddingConformanceTest.encode(m, List.of(seqs.get(s)))[0], together[s]}) {
                    double max = 0, scale = 0;
                    for (int i = 0; i < dim; i++) {
                        max = Math.max(max, Math.abs(got[i] - ref[i]));
                        scale = Math.max(scale, Math.abs(ref[i]));
                    }
                    double cos = EmbeddingConformanceTest.cosine(got, ref);
                    assertTrue(max <= 1e-4 * Math.max(1, scale) && cos >= 0.99999, shape + " sequence " + s + ": max |diff| " + max + ", cosine " + cos);
                }
            }
        }
    }

    /**
     * llama-server --reranking -fa off -ctk f32 -ctv f32 on the files, /v1/rerank with this query
     * and documents: the relevance_score of each document, in document order.
     */
    @Test
    void synthesizedRerankersMatchLlamaCpp() throws IOException {
        String query = "where is the cat";
        List<String> docs = List.of("the cat sat on the mat", "a dog ran in the park", "stocks fell sharply today", "hello");
        float[][] want = {{0.6437559127807617f, 0.909466564655304f, 0.721473217010498f, 0.6981104016304016f},
                {0.062162045389413834f, 0.046661049127578735f, 0.06478939205408096f, 0.8950207829475403f}};
        String[] shapes = {"tiny-bge-reranker", "tiny-qwen3-reranker"};
        for (int k = 0; k < shapes.length; k++) {
            try (EmbeddingModel m = EmbeddingModel.load(synth(shapes[k]), null, GGMLType.F32);
                 EmbeddingEngine engine = new EmbeddingEngine(m, Embedder.defaults())) {
                assertEquals(Pooling.RANK, m.pooling());
                float[] got = new Embedder(engine).rerank(query, docs);
                for (int i = 0; i < docs.size(); i++) {
                    assertEquals(want[k][i], got[i], 1e-4, shapes[k] + " document " + i + ": " + Arrays.toString(got));
                }
            }
        }
    }
}
