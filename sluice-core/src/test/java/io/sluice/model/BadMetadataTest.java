package io.sluice.model;

import io.sluice.gguf.GGUFException;
import io.sluice.gguf.GGUFWriter;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every new architecture key with an impossible value, and tensors that contradict the metadata:
 * loading fails with one GGUFException naming the file and the key (or the tensor).
 */
class BadMetadataTest {
    @TempDir
    Path dir;

    record Case(String name, String fixture, Consumer<GGUFWriter> edit, FixtureRewriter.TensorEdit tensors, String named) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static Case meta(String name, String fixture, Consumer<GGUFWriter> edit, String key) {
        return new Case(name, fixture, edit, FixtureRewriter.SAME, key);
    }

    /** The tensor with its last `drop` rows cut off. */
    private static FixtureRewriter.TensorEdit shorter(String tensor, int drop) {
        return (t, d) -> {
            if (!t.name().equals(tensor)) return FixtureRewriter.SAME.apply(t, d);
            long rows = t.dims()[1] - drop;
            return new FixtureRewriter.Tensor(t.name(), new long[]{t.dims()[0], rows}, d.asSlice(0, t.type().byteSize(t.dims()[0] * rows)));
        };
    }

    static List<Case> cases() {
        String g2 = "tiny-gemma2-f32.gguf", g3 = "tiny-gemma3-f32.gguf", m3 = "tiny-mistral3-f32.gguf", gr = "tiny-granite-f32.gguf";
        String p3 = "tiny-phi3-f32.gguf", q3 = "tiny-qwen3-f32.gguf";
        return List.of(
                meta("negative window", g3, w -> w.putI32("gemma3.attention.sliding_window", -8), "gemma3.attention.sliding_window"),
                meta("gemma2 window 0", g2, w -> w.putU32("gemma2.attention.sliding_window", 0), "gemma2.attention.sliding_window"),
                meta("window beyond int", g2, w -> w.putU32("gemma2.attention.sliding_window", 0xFFFF_FFF0L), "gemma2.attention.sliding_window"),
                meta("attention soft-cap 0", g2, w -> w.putF32("gemma2.attn_logit_softcapping", 0f), "gemma2.attn_logit_softcapping"),
                meta("final soft-cap NaN", g2, w -> w.putF32("gemma2.final_logit_softcapping", Float.NaN), "gemma2.final_logit_softcapping"),
                meta("final soft-cap negative", g3, w -> w.putF32("gemma3.final_logit_softcapping", -30f), "gemma3.final_logit_softcapping"),
                meta("pattern longer than the layers", g3, w -> w.putU32("gemma3.attention.sliding_window_pattern", 7), "gemma3.attention.sliding_window_pattern"),
                meta("pattern flags for 7 of 6 layers", g3, w -> w.putArray("gemma3.attention.sliding_window_pattern", new boolean[7]),
                        "gemma3.attention.sliding_window_pattern"),
                meta("pattern of strings", g3, w -> w.putArray("gemma3.attention.sliding_window_pattern", new String[]{"L", "G"}),
                        "gemma3.attention.sliding_window_pattern"),
                meta("local rope base 0", g3, w -> w.putF32("gemma3.rope.freq_base_swa", 0f), "gemma3.rope.freq_base_swa"),
                meta("rope base infinite", q3, w -> w.putF32("qwen3.rope.freq_base", Float.POSITIVE_INFINITY), "qwen3.rope.freq_base"),
                meta("head_dim inconsistent with tensors", q3, w -> {
                    w.putU32("qwen3.attention.key_length", 32);
                    w.putU32("qwen3.attention.value_length", 32);
                    w.putU32("qwen3.rope.dimension_count", 32);
                }, "qwen3.attention.key_length"),
                meta("head_dim beyond the rotary dims", q3, w -> w.putU32("qwen3.attention.key_length", 32), "qwen3.rope.dimension_count"),
                meta("value_length differs", q3, w -> w.putU32("qwen3.attention.value_length", 128), "qwen3.attention.value_length"),
                meta("kv heads not dividing heads", q3, w -> w.putU32("qwen3.attention.head_count_kv", 3), "qwen3.attention.head_count_kv"),
                meta("per-layer heads of the wrong length", q3, w -> w.putArray("qwen3.attention.head_count", new int[]{8, 8, 8}),
                        "qwen3.attention.head_count"),
                meta("odd rope dims", "tiny-llama3-f32.gguf", w -> w.putU32("llama.rope.dimension_count", 63), "llama.rope.dimension_count"),
                meta("unknown rope scaling", m3, w -> w.putString("mistral3.rope.scaling.type", "ntk-aware"), "mistral3.rope.scaling.type"),
                meta("negative rope factor", m3, w -> w.putF32("mistral3.rope.scaling.factor", -32f), "mistral3.rope.scaling.factor"),
                meta("yarn beta NaN", m3, w -> w.putF32("mistral3.rope.scaling.yarn_beta_fast", Float.NaN), "mistral3.rope.scaling.yarn_beta_fast"),
                meta("yarn beta 0", m3, w -> w.putF32("mistral3.rope.scaling.yarn_beta_slow", 0f), "mistral3.rope.scaling.yarn_beta_slow"),
                meta("original context 0", m3, w -> w.putU32("mistral3.rope.scaling.original_context_length", 0),
                        "mistral3.rope.scaling.original_context_length"),
                meta("temperature infinite", m3, w -> w.putF32("mistral3.attention.temperature_scale", Float.POSITIVE_INFINITY),
                        "mistral3.attention.temperature_scale"),
                meta("attn_factor 0", p3, w -> w.putF32("phi3.rope.scaling.attn_factor", 0f), "phi3.rope.scaling.attn_factor"),
                meta("phi3 window negative", p3, w -> w.putI32("phi3.attention.sliding_window", -1), "phi3.attention.sliding_window"),
                meta("residual scale negative", gr, w -> w.putF32("granite.residual_scale", -0.22f), "granite.residual_scale"),
                meta("embedding scale NaN", gr, w -> w.putF32("granite.embedding_scale", Float.NaN), "granite.embedding_scale"),
                meta("logit scale 0", gr, w -> w.putF32("granite.logit_scale", 0f), "granite.logit_scale"),
                meta("attention scale negative", gr, w -> w.putF32("granite.attention.scale", -1f), "granite.attention.scale"),
                new Case("fused attn_qkv of the wrong size", p3, w -> { }, shorter("blk.1.attn_qkv.weight", 32), "blk.1.attn_qkv.weight"),
                new Case("fused ffn_up of the wrong size", p3, w -> { }, shorter("blk.0.ffn_up.weight", 1), "blk.0.ffn_up.weight"),
                new Case("rope factors of the wrong length", "tiny-llama3-f32.gguf", w -> { }, (t, d) -> t.name().equals("rope_freqs.weight")
                        ? new FixtureRewriter.Tensor(t.name(), new long[]{16}, d.asSlice(0, 64)) : FixtureRewriter.SAME.apply(t, d), "rope_freqs.weight"),
                new Case("q norm of the wrong length", q3, w -> { }, (t, d) -> t.name().equals("blk.0.attn_q_norm.weight")
                        ? new FixtureRewriter.Tensor(t.name(), new long[]{32}, d.asSlice(0, 128)) : FixtureRewriter.SAME.apply(t, d),
                        "blk.0.attn_q_norm.weight"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void isOneClearErrorNamingTheFileAndTheKey(Case c) throws Exception {
        Path file = FixtureRewriter.rewrite(c.fixture(), dir.resolve("bad.gguf"), c.edit(), c.tensors());
        GGUFException e = assertThrows(GGUFException.class, () -> Model.load(file).close());
        String msg = e.getMessage();
        assertTrue(msg.contains(file.toString()), "names the file: " + msg);
        assertTrue(msg.contains("'" + c.named() + "'"), "names " + c.named() + ": " + msg);
        System.out.println(c.name() + ": " + msg.substring(file.toString().length()));
    }
}
