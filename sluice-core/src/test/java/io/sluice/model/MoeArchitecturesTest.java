package io.sluice.model;

import io.sluice.Fixtures;
import io.sluice.gguf.GGMLType;
import io.sluice.gguf.GGUFException;
import io.sluice.gguf.GGUFFile;
import io.sluice.gguf.GGUFWriter;
import io.sluice.gguf.TensorInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The mixture-of-experts architectures beyond the two fixtures: models of other shapes written by
 * {@link Synth} (qwen2moe with its shared expert, olmoe, Mixtral-style llama, qwen3moe with 16
 * experts of which 4 are used, gpt-oss with 3 layers, 4 of 8 experts and a window of 6) against
 * llama.cpp's logits for them; the fixtures rewritten with twice the experts (each one twice), which
 * routes to the same mixture and must give the fixtures' logits; and hostile expert metadata.
 */
class MoeArchitecturesTest {
    @TempDir
    Path dir;

    /**
     * src/test/resources/llamacpp/SHAPE-f32.logits4.f32: llama.cpp's (c2b1518fd, CPU, F32 KV cache)
     * logits at positions 0, 9, 20 and 31 of the fixture prompt as one causal batch, for
     * {@code Synth.write(shape, f32, seed 42)}: 4 × 512 float32. A change to Synth's random
     * weights changes these files.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-qwen2moe", "tiny-olmoe", "tiny-mixtral", "tiny-qwen3moe", "tiny-gpt-oss"})
    void synthesizedShapesMatchLlamaCpp(String shape) throws IOException {
        Path file = dir.resolve(shape + ".gguf");
        Synth.write(Synth.shape(shape), Synth.TypeSpec.parse("f32"), 42, file);
        float[] want;
        try (InputStream in = MoeArchitecturesTest.class.getResourceAsStream("/llamacpp/" + shape + "-f32.logits4.f32")) {
            ByteBuffer b = ByteBuffer.wrap(in.readAllBytes()).order(ByteOrder.LITTLE_ENDIAN);
            want = new float[b.remaining() / 4];
            b.asFloatBuffer().get(want);
        }
        try (Model m = Model.load(file)) {
            assertEquals(Synth.shape(shape).arch(), m.config().arch());
            int vocab = m.config().vocabSize();
            float[] got = LogitsConformanceTest.evaluate(m, LogitsConformanceTest.promptTokens(), GGMLType.F32);
            int[] positions = {0, 9, 20, 31};
            double max = 0;
            for (int i = 0; i < positions.length; i++) {
                for (int v = 0; v < vocab; v++) max = Math.max(max, Math.abs(got[positions[i] * vocab + v] - want[i * vocab + v]));
            }
            assertTrue(max <= 1e-3, shape + ": max |diff| " + max);
        }
    }

    /** A copy of a fixture with its metadata edited and every expert tensor (and the router) holding each expert twice. */
    private Path doubledExperts(String fixture, Consumer<GGUFWriter> edit) throws IOException {
        Path dst = dir.resolve("doubled-" + fixture);
        try (GGUFFile f = GGUFFile.open(Fixtures.model(fixture)); Arena arena = Arena.ofConfined()) {
            GGUFWriter w = new GGUFWriter();
            f.metadata().forEach((k, v) -> {
                if (!k.equals("general.alignment")) w.put(k, v);
            });
            edit.accept(w);
            for (TensorInfo t : f.tensors().values().stream().sorted(Comparator.comparingLong(TensorInfo::offset)).toList()) {
                MemorySegment data = f.data(t);
                boolean experts = t.name().contains("_exps.") || t.name().contains("ffn_gate_inp.");
                if (!experts) {
                    w.addTensor(t.name(), t.type(), t.dims(), data);
                    continue;
                }
                // The last dimension counts experts: expert e becomes experts 2e and 2e + 1.
                long[] dims = t.dims().clone();
                int n = (int) dims[dims.length - 1];
                dims[dims.length - 1] = 2L * n;
                long per = data.byteSize() / n;
                MemorySegment out = arena.allocate(2 * data.byteSize());
                for (int e = 0; e < n; e++) {
                    MemorySegment.copy(data, e * per, out, 2L * e * per, per);
                    MemorySegment.copy(data, e * per, out, (2L * e + 1) * per, per);
                }
                w.addTensor(t.name(), t.type(), dims, out);
            }
            w.write(dst);
        }
        return dst;
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-qwen3moe-f32", "tiny-gpt-oss-f32", "tiny-qwen3moe-q4_k_m"})
    void everyExpertTwiceAndTwiceAsManyUsedIsTheSameModel(String fixture) throws IOException {
        // 16 experts, 4 used: the two copies of each of the 2 best split its weight (softmax over all
        // experts then renormalised, or softmax over the chosen 4), so every token's mixture is the same.
        String arch = fixture.startsWith("tiny-gpt-oss") ? "gpt-oss" : "qwen3moe";
        Path p = doubledExperts(fixture + ".gguf", w -> {
            w.putU32(arch + ".expert_count", 16);
            w.putU32(arch + ".expert_used_count", 4);
        });
        float[] want = LogitsConformanceTest.readF32(Fixtures.model(fixture + ".logits.f32"));
        try (Model m = Model.load(p)) {
            float[] got = LogitsConformanceTest.evaluate(m, LogitsConformanceTest.promptTokens(), GGMLType.F32);
            double max = 0;
            for (int i = 0; i < got.length; i++) max = Math.max(max, Math.abs(got[i] - want[i]));
            double tol = LogitsConformanceTest.tolerance(fixture)[0];
            assertTrue(max <= tol, fixture + " doubled: max |diff| " + max);
        }
    }

    private Path edited(String fixture, Consumer<GGUFWriter> edit) throws IOException {
        Path dst = dir.resolve("edited-" + fixture);
        try (GGUFFile f = GGUFFile.open(Fixtures.model(fixture))) {
            GGUFWriter w = GGUFWriter.copyOf(f);
            edit.accept(w);
            w.write(dst);
        }
        return dst;
    }

    @Test
    void hostileExpertMetadataIsOneClearErrorNamingFileAndKey() throws IOException {
        String[][] cases = {
                {"tiny-qwen3moe-q8_0.gguf", "qwen3moe.expert_used_count", "9", "exceeds expert_count 8"},
                {"tiny-qwen3moe-q8_0.gguf", "qwen3moe.expert_count", "0", "outside 1..512"},
                {"tiny-gpt-oss-q8_0.gguf", "gpt-oss.expert_count", "16", "ffn_gate_inp.weight"},
                {"tiny-gpt-oss-q8_0.gguf", "gpt-oss.expert_feed_forward_length", "48", "ffn_gate_exps.weight"},
                {"tiny-qwen3moe-f32.gguf", "qwen3moe.expert_gating_func", "7", "not a gating function"}};
        for (String[] c : cases) {
            Path p = edited(c[0], w -> w.putU32(c[1], Integer.parseInt(c[2])));
            GGUFException e = assertThrows(GGUFException.class, () -> Model.load(p).close(), c[1]);
            assertTrue(e.getMessage().contains(p.toString()) && e.getMessage().contains(c[3]), c[1] + " = " + c[2] + ": " + e.getMessage());
        }
        Path p = edited("tiny-qwen3moe-q8_0.gguf", w -> w.putString("qwen3moe.expert_used_count", "two"));
        GGUFException e = assertThrows(GGUFException.class, () -> Model.load(p).close());
        assertTrue(e.getMessage().contains("qwen3moe.expert_used_count"), e.getMessage());
    }
}
