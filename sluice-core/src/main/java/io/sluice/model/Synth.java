package io.sluice.model;

import io.sluice.gguf.GGMLType;
import io.sluice.gguf.GGUFWriter;
import io.sluice.model.tokenizer.ByteLevel;
import io.sluice.tensor.Format;
import io.sluice.tensor.Formats;
import io.sluice.tensor.Parallel;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Dummy models (vLLM's --load-format dummy): random weights in the shape of a real model, with a
 * synthetic tokenizer of the model's kind (SentencePiece, or byte-level BPE with the model's
 * pre-tokenizer) and vocabulary size, written as a GGUF file llama.cpp loads too. Benchmarks need
 * no download; speed depends only on shape and tensor types. Each architecture writes its tensors
 * and keys (Q/K norms per head or over the whole projection, biases, Gemma's post-norms, Phi-3's
 * fused tensors and LongRoPE factors, qwen2moe's shared expert, gpt-oss's sinks and window,
 * Mixtral's experts in a llama file, BitNet's sub-norms).
 */
public final class Synth {
    /**
     * A real model's shape.
     *
     * @param headDim values per attention head (attention.key_length)
     * @param vocab   the tokenizer (its size is the embedding's rows)
     * @param experts the mixture of experts, or null for a dense feed-forward of ffn
     * @param keys    the architecture's own metadata, ARCH.suffix to an Integer, Float or String
     */
    public record Shape(String name, String arch, int dim, int layers, int heads, int kvHeads, int headDim, int ffn, Vocab vocab,
                        int context, float ropeTheta, boolean tied, Experts experts, Map<String, Object> keys) {
        /** A dense model with heads of dim / heads values and a SentencePiece vocabulary. */
        Shape(String name, String arch, int dim, int layers, int heads, int kvHeads, int ffn, int vocab, int context, float ropeTheta, boolean tied) {
            this(name, arch, dim, layers, heads, kvHeads, dim / heads, ffn, Vocab.spm(vocab), context, ropeTheta, tied, null, Map.of());
        }

        /** A mixture of experts with a SentencePiece vocabulary. */
        Shape(String name, String arch, int dim, int layers, int heads, int kvHeads, int headDim, int ffn, int vocab, int context,
              float ropeTheta, boolean tied, Experts experts) {
            this(name, arch, dim, layers, heads, kvHeads, headDim, ffn, Vocab.spm(vocab), context, ropeTheta, tied, experts, Map.of());
        }

        public int vocabSize() {
            return vocab.size();
        }

        /**
         * This shape cut to its first {@code n} layers. Written with the same seed and a pure type, its
         * every tensor equals the full model's (the layers are drawn last, in order): a cheap draft
         * that agrees with its target as often as the dropped layers leave the argmax alone.
         */
        public Shape withLayers(int n) {
            if (n < 1 || n > layers) throw new IllegalArgumentException("--layers must be in 1.." + layers + " for " + name + " (got " + n + ")");
            return new Shape(name, arch, dim, n, heads, kvHeads, headDim, ffn, vocab, context, ropeTheta, tied, experts, keys);
        }
    }

    /**
     * @param count   experts per layer
     * @param used    experts per token
     * @param ff      each expert's feed-forward width
     * @param sharedFf the shared expert's width (qwen2moe), 0 for none
     * @param window  gpt-oss's sliding window on alternate layers, 0 for none
     */
    public record Experts(int count, int used, int ff, int sharedFf, int window) {
    }

    /**
     * @param model          tokenizer.ggml.model: "llama" (SentencePiece) or "gpt2" (byte-level BPE)
     * @param pre            tokenizer.ggml.pre
     * @param size           tokens
     * @param addSpacePrefix SentencePiece's add_space_prefix (false for Gemma)
     */
    public record Vocab(String model, String pre, int size, boolean addSpacePrefix) {
        static Vocab spm(int size) {
            return new Vocab("llama", "default", size, true);
        }

        static Vocab bpe(String pre, int size) {
            return new Vocab("gpt2", pre, size, false);
        }
    }

    /**
     * How an architecture lays out its attention and norms.
     *
     * @param subNorms BitNet's attn_sub_norm (before attn_output) and ffn_sub_norm (before ffn_down)
     */
    private record Layout(boolean preNorms, boolean postNorms, QkNorm qkNorm, boolean qkvBias, boolean fusedQkv, boolean fusedGateUp,
                          boolean longRope, boolean subNorms) {
    }

    private enum QkNorm { NONE, PER_HEAD, WHOLE }

    private static final Layout LLAMA = new Layout(true, false, QkNorm.NONE, false, false, false, false, false);
    private static final Layout BIASED = new Layout(true, false, QkNorm.NONE, true, false, false, false, false);
    private static final Layout QK_PER_HEAD = new Layout(true, false, QkNorm.PER_HEAD, false, false, false, false, false);
    private static final Map<String, Layout> LAYOUTS = Map.ofEntries(
            Map.entry("llama", LLAMA), Map.entry("granite", LLAMA), Map.entry("smollm3", LLAMA), Map.entry("mistral3", LLAMA),
            Map.entry("qwen2", BIASED), Map.entry("qwen2moe", BIASED), Map.entry("gpt-oss", BIASED),
            Map.entry("qwen3", QK_PER_HEAD), Map.entry("qwen3moe", QK_PER_HEAD),
            Map.entry("olmoe", new Layout(true, false, QkNorm.WHOLE, false, false, false, false, false)),
            Map.entry("gemma2", new Layout(true, true, QkNorm.NONE, false, false, false, false, false)),
            Map.entry("gemma3", new Layout(true, true, QkNorm.PER_HEAD, false, false, false, false, false)),
            Map.entry("phi3", new Layout(true, false, QkNorm.NONE, false, true, true, true, false)),
            Map.entry("olmo2", new Layout(false, true, QkNorm.WHOLE, false, false, false, false, false)),
            Map.entry("bitnet", new Layout(true, false, QkNorm.NONE, false, false, false, false, true)));

    /** A dense shape with its vocabulary and architecture keys (suffix, value pairs). */
    private static Shape dense(String name, String arch, int dim, int layers, int heads, int kvHeads, int headDim, int ffn, Vocab vocab,
                               int context, float rope, boolean tied, Object... keys) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < keys.length; i += 2) m.put((String) keys[i], keys[i + 1]);
        return new Shape(name, arch, dim, layers, heads, kvHeads, headDim, ffn, vocab, context, rope, tied, null, m);
    }

    public static final List<Shape> SHAPES = List.of(
            new Shape("tinyllama-1.1b", "llama", 2048, 22, 32, 4, 5632, 32000, 2048, 10000f, false),
            new Shape("llama-3.2-1b", "llama", 2048, 16, 32, 8, 8192, 128256, 131072, 500000f, true),
            new Shape("smollm-135m", "llama", 576, 30, 9, 3, 1536, 49152, 2048, 10000f, true),
            new Shape("qwen2.5-0.5b", "qwen2", 896, 24, 14, 2, 4864, 151936, 32768, 1000000f, true),
            new Shape("qwen2.5-1.5b", "qwen2", 1536, 28, 12, 2, 8960, 151936, 32768, 1000000f, true),
            dense("qwen3-0.6b", "qwen3", 1024, 28, 16, 8, 128, 3072, Vocab.bpe("qwen2", 151936), 40960, 1000000f, true,
                    "attention.layer_norm_rms_epsilon", 1e-6f),
            dense("qwen3-4b", "qwen3", 2560, 36, 32, 8, 128, 9728, Vocab.bpe("qwen2", 151936), 40960, 1000000f, true,
                    "attention.layer_norm_rms_epsilon", 1e-6f),
            dense("gemma-3-1b", "gemma3", 1152, 26, 4, 1, 256, 6912, new Vocab("llama", "default", 262144, false), 32768, 1000000f, true,
                    "attention.layer_norm_rms_epsilon", 1e-6f, "attention.sliding_window", 512, "rope.freq_base_swa", 10000f),
            dense("gemma-2-2b", "gemma2", 2304, 26, 8, 4, 256, 9216, new Vocab("llama", "default", 256000, false), 8192, 10000f, true,
                    "attention.layer_norm_rms_epsilon", 1e-6f, "attention.sliding_window", 4096,
                    "attn_logit_softcapping", 50f, "final_logit_softcapping", 30f),
            // Phi-4-mini: partial rotary (96 of 128), LongRoPE from 4096, attn_factor sqrt(1 + ln(32) / ln(4096)).
            dense("phi-4-mini", "phi3", 3072, 32, 24, 8, 128, 8192, Vocab.bpe("gpt-4o", 200064), 131072, 10000f, true,
                    "rope.dimension_count", 96, "rope.scaling.original_context_length", 4096,
                    "rope.scaling.attn_factor", (float) Math.sqrt(1 + Math.log(32) / Math.log(4096))),
            dense("smollm3-3b", "smollm3", 2048, 36, 16, 4, 128, 11008, Vocab.bpe("smaug-bpe", 128256), 65536, 5000000f, true,
                    "attention.layer_norm_rms_epsilon", 1e-6f),
            dense("olmo2-1b", "olmo2", 2048, 16, 16, 16, 128, 8192, Vocab.bpe("dbrx", 100352), 4096, 500000f, false,
                    "attention.layer_norm_rms_epsilon", 1e-6f),
            dense("granite-3.3-2b", "granite", 2048, 40, 32, 8, 64, 8192, Vocab.bpe("refact", 49159), 131072, 10000000f, true,
                    "embedding_scale", 12f, "residual_scale", 0.22f, "attention.scale", 0.015625f, "logit_scale", 8f),
            // BitNet b1.58 (1bitLLM/bitnet_b1_58-large, ternary weights): 1536 and 4096 fill TQ1_0/TQ2_0's 256-value blocks.
            new Shape("bitnet-b1.58-large", "bitnet", 1536, 24, 16, 16, 4096, 32002, 2048, 10000f, true),
            new Shape("tiny", "llama", 256, 2, 8, 2, 768, 512, 2048, 10000f, false),
            new Shape("tiny-qwen2", "qwen2", 256, 2, 8, 2, 768, 512, 2048, 1000000f, true),
            new Shape("tiny-bitnet", "bitnet", 256, 2, 4, 2, 512, 512, 2048, 10000f, true),
            // Mixtures of experts. feed_forward_length is what the published files carry (unused by the experts).
            new Shape("qwen3-30b-a3b", "qwen3moe", 2048, 48, 32, 4, 128, 6144, 151936, 40960, 1000000f, false, new Experts(128, 8, 768, 0, 0)),
            new Shape("gpt-oss-20b", "gpt-oss", 2880, 24, 64, 8, 64, 2880, 201088, 131072, 150000f, false, new Experts(32, 4, 2880, 0, 128)),
            new Shape("olmoe-1b-7b", "olmoe", 2048, 16, 16, 16, 128, 1024, 50304, 4096, 10000f, false, new Experts(64, 8, 1024, 0, 0)),
            new Shape("tiny-qwen3moe", "qwen3moe", 256, 2, 4, 1, 64, 64, 512, 512, 1000000f, false, new Experts(16, 4, 64, 0, 0)),
            new Shape("tiny-qwen2moe", "qwen2moe", 256, 2, 4, 2, 64, 96, 512, 512, 1000000f, false, new Experts(8, 2, 64, 96, 0)),
            new Shape("tiny-olmoe", "olmoe", 256, 2, 4, 4, 64, 64, 512, 512, 10000f, false, new Experts(16, 4, 64, 0, 0)),
            new Shape("tiny-mixtral", "llama", 256, 2, 8, 2, 32, 128, 512, 512, 1000000f, false, new Experts(4, 2, 128, 0, 0)),
            new Shape("tiny-gpt-oss", "gpt-oss", 256, 3, 4, 2, 64, 64, 512, 512, 150000f, false, new Experts(8, 4, 64, 0, 6)));

    private Synth() {
    }

    public static Shape shape(String name) {
        for (Shape s : SHAPES) if (s.name.equalsIgnoreCase(name)) return s;
        throw new IllegalArgumentException("unknown shape '" + name + "'; known: "
                + String.join(", ", SHAPES.stream().map(Shape::name).toList()));
    }

    /** How tensor types follow from the file type, as llama-quantize decides them. */
    public enum Recipe {
        /** Every matrix in the base type (llama-quantize --pure). */
        PURE,
        /** Q4_K_M: Q4_K, with Q6_K for the output and for attn_v and ffn_down(_exps) in a third of the layers. */
        Q4_K_M,
        /** MXFP4_MOE, as gpt-oss is published: the experts MXFP4, every other matrix Q8_0. */
        MXFP4_MOE
    }

    /** Parses a type name as llama.cpp spells it (q4_0, q8_0, f16, q4_k_m, mxfp4_moe, ...). */
    public record TypeSpec(GGMLType base, Recipe recipe) {
        public static TypeSpec parse(String s) {
            String t = s.trim().toUpperCase(Locale.ROOT);
            if (t.equals("Q4_K_M")) return new TypeSpec(GGMLType.Q4_K, Recipe.Q4_K_M);
            if (t.equals("MXFP4_MOE")) {
                if (!Formats.supports(GGMLType.MXFP4)) throw new IllegalArgumentException("mxfp4_moe needs the MXFP4 format, which this build does not compute");
                return new TypeSpec(GGMLType.Q8_0, Recipe.MXFP4_MOE);
            }
            if (t.equals("Q4_K_S")) t = "Q4_K";
            try {
                GGMLType g = GGMLType.valueOf(t);
                if (!Formats.supports(g)) throw new IllegalArgumentException();
                return new TypeSpec(g, Recipe.PURE);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unsupported type '" + s + "' (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k..q6_k, iq4_nl, iq4_xs, iq3_s, iq3_xxs, iq2_s, iq2_xs, iq2_xxs, iq1_m, iq1_s, tq1_0, tq2_0, mxfp4, q4_k_m, mxfp4_moe)");
            }
        }

        /** The type of one matrix: its role's type in the recipe (output, a more-bits layer's attn_v/ffn_down, an expert). */
        GGMLType of(boolean output, boolean moreBits, boolean expert) {
            return switch (recipe) {
                case PURE -> base;
                case Q4_K_M -> output || moreBits ? GGMLType.Q6_K : base;
                case MXFP4_MOE -> expert ? GGMLType.MXFP4 : base;
            };
        }
    }

    /** llama.cpp's llama_ftype number for the file (only informative: tools print it). */
    static int fileType(TypeSpec t) {
        if (t.recipe == Recipe.Q4_K_M) return 15;
        if (t.recipe == Recipe.MXFP4_MOE) return 38;
        return switch (t.base) {
            case F32 -> 0; case F16 -> 1; case Q4_0 -> 2; case Q4_1 -> 3; case Q8_0 -> 7; case Q5_0 -> 8; case Q5_1 -> 9;
            case Q2_K -> 10; case Q3_K -> 12; case Q4_K -> 14; case Q5_K -> 16; case Q6_K -> 18; case BF16 -> 32;
            case IQ2_XXS -> 19; case IQ2_XS -> 20; case IQ3_XXS -> 23; case IQ1_S -> 24; case IQ4_NL -> 25; case IQ3_S -> 26;
            case IQ2_S -> 28; case IQ4_XS -> 30; case IQ1_M -> 31; case TQ1_0 -> 36; case TQ2_0 -> 37; case MXFP4 -> 38;
            default -> 0;
        };
    }

    /** Writes a random-weight model of {@code shape} with matrices in the types {@code type} gives them. */
    public static void write(Shape s, TypeSpec type, long seed, Path out) throws IOException {
        GGUFWriter w = new GGUFWriter();
        String a = s.arch;
        Experts x = s.experts;
        Layout layout = LAYOUTS.get(a);
        boolean gptOss = a.equals("gpt-oss");
        int ropeDim = (Integer) s.keys.getOrDefault("rope.dimension_count", s.headDim);
        w.putString("general.architecture", a);
        w.putString("general.name", "sluice-dummy-" + s.name + "-" + (type.recipe != Recipe.PURE ? type.recipe : type.base).toString().toLowerCase(Locale.ROOT));
        w.putU32("general.file_type", fileType(type));
        w.putU32(a + ".context_length", s.context);
        w.putU32(a + ".embedding_length", s.dim);
        w.putU32(a + ".block_count", s.layers);
        w.putU32(a + ".feed_forward_length", s.ffn);
        w.putU32(a + ".attention.head_count", s.heads);
        w.putU32(a + ".attention.head_count_kv", s.kvHeads);
        w.putU32(a + ".attention.key_length", s.headDim);
        w.putU32(a + ".attention.value_length", s.headDim);
        w.putU32(a + ".rope.dimension_count", ropeDim);
        w.putF32(a + ".rope.freq_base", s.ropeTheta);
        w.putF32(a + ".attention.layer_norm_rms_epsilon", 1e-5f);
        w.putU32(a + ".vocab_size", s.vocabSize());
        s.keys.forEach((k, v) -> {
            switch (v) {
                case Integer i -> w.putU32(a + "." + k, i);
                case Float f -> w.putF32(a + "." + k, f);
                case String str -> w.putString(a + "." + k, str);
                default -> throw new IllegalStateException(k + ": " + v);
            }
        });
        if (x != null) {
            w.putU32(a + ".expert_count", x.count);
            w.putU32(a + ".expert_used_count", x.used);
            if (!a.equals("llama") && !a.equals("olmoe")) w.putU32(a + ".expert_feed_forward_length", x.ff);
            if (x.sharedFf > 0) w.putU32(a + ".expert_shared_feed_forward_length", x.sharedFf);
        }
        if (gptOss) {
            // As the published files: a window on even layers, YaRN from a 4096-token original context.
            w.putU32(a + ".attention.sliding_window", x.window);
            w.putString(a + ".rope.scaling.type", "yarn");
            w.putF32(a + ".rope.scaling.factor", 32f);
            w.putU32(a + ".rope.scaling.original_context_length", Math.min(4096, s.context / 8));
        }
        addVocabulary(w, s.vocab);

        SplittableRandom root = new SplittableRandom(seed);
        int qDim = s.heads * s.headDim, kv = s.kvHeads * s.headDim;
        float scale = (float) (1.0 / Math.sqrt(s.dim));
        // A tied embedding is the output too: Q4_K_M gives it the output's 6 bits, as llama-quantize does.
        vocabMatrix(w, "token_embd.weight", type.of(s.tied, false, false), s.dim, s.vocabSize(), 1f, root.split());
        vector(w, "output_norm.weight", s.dim, 1f, 0.2f, root);
        if (!s.tied) vocabMatrix(w, "output.weight", type.of(true, false, false), s.dim, s.vocabSize(), scale, root.split());
        if (layout.longRope) {
            float[] longFactors = new float[ropeDim / 2];
            for (int i = 0; i < longFactors.length; i++) longFactors[i] = 1f + 31f * i / Math.max(1, longFactors.length - 1);
            w.addTensor("rope_factors_long.weight", GGMLType.F32, new long[]{longFactors.length}, bytes(longFactors));
            vector(w, "rope_factors_short.weight", ropeDim / 2, 1f, 0f, root);
        }
        for (int l = 0; l < s.layers; l++) {
            String p = "blk." + l + ".";
            boolean moreBits = l < s.layers / 8 || l >= 7 * s.layers / 8 || (l - s.layers / 8) % 3 == 2;
            if (layout.preNorms) vector(w, p + "attn_norm.weight", s.dim, 1f, 0.2f, root);
            if (layout.fusedQkv) {
                GGMLType qkv = type.recipe == Recipe.Q4_K_M ? GGMLType.Q5_K : type.of(false, false, false);
                matrix(w, p + "attn_qkv.weight", qkv, s.dim, qDim + 2 * kv, 1, scale, root.split());
            } else {
                matrix(w, p + "attn_q.weight", type.of(false, false, false), s.dim, qDim, 1, scale, root.split());
                matrix(w, p + "attn_k.weight", type.of(false, false, false), s.dim, kv, 1, scale, root.split());
                matrix(w, p + "attn_v.weight", type.of(false, moreBits, false), s.dim, kv, 1, scale, root.split());
            }
            if (layout.qkvBias) {
                vector(w, p + "attn_q.bias", qDim, 0f, 0.5f, root);
                vector(w, p + "attn_k.bias", kv, 0f, 0.5f, root);
                vector(w, p + "attn_v.bias", kv, 0f, 0.5f, root);
            }
            if (layout.qkNorm != QkNorm.NONE) {
                vector(w, p + "attn_q_norm.weight", layout.qkNorm == QkNorm.WHOLE ? qDim : s.headDim, 1f, 0.2f, root);
                vector(w, p + "attn_k_norm.weight", layout.qkNorm == QkNorm.WHOLE ? kv : s.headDim, 1f, 0.2f, root);
            }
            if (layout.subNorms) vector(w, p + "attn_sub_norm.weight", qDim, 1f, 0.2f, root);
            matrix(w, p + "attn_output.weight", type.of(false, false, false), qDim, s.dim, 1, (float) (1.0 / Math.sqrt(qDim)), root.split());
            if (gptOss) {
                vector(w, p + "attn_output.bias", s.dim, 0f, 0.5f, root);
                vector(w, p + "attn_sinks.weight", s.heads, 0f, 0.5f, root);
            }
            if (layout.postNorms) vector(w, p + "post_attention_norm.weight", s.dim, 1f, 0.2f, root);
            if (layout.preNorms) vector(w, p + (gptOss ? "post_attention_norm.weight" : "ffn_norm.weight"), s.dim, 1f, 0.2f, root);
            if (layout.fusedGateUp) {
                matrix(w, p + "ffn_up.weight", type.of(false, false, false), s.dim, 2 * s.ffn, 1, scale, root.split());
                matrix(w, p + "ffn_down.weight", type.of(false, moreBits, false), s.ffn, s.dim, 1, (float) (1.0 / Math.sqrt(s.ffn)), root.split());
                continue;
            }
            if (x == null) {
                matrix(w, p + "ffn_gate.weight", type.of(false, false, false), s.dim, s.ffn, 1, scale, root.split());
                matrix(w, p + "ffn_up.weight", type.of(false, false, false), s.dim, s.ffn, 1, scale, root.split());
                matrix(w, p + "ffn_down.weight", type.of(false, moreBits, false), s.ffn, s.dim, 1, (float) (1.0 / Math.sqrt(s.ffn)), root.split());
                if (layout.subNorms) vector(w, p + "ffn_sub_norm.weight", s.ffn, 1f, 0.2f, root);
                if (layout.postNorms) vector(w, p + "post_ffw_norm.weight", s.dim, 1f, 0.2f, root);
                continue;
            }
            // The router stays F32, as llama-quantize leaves it.
            matrix(w, p + "ffn_gate_inp.weight", GGMLType.F32, s.dim, x.count, 1, scale, root.split());
            matrix(w, p + "ffn_gate_exps.weight", type.of(false, false, true), s.dim, x.ff, x.count, scale, root.split());
            matrix(w, p + "ffn_up_exps.weight", type.of(false, false, true), s.dim, x.ff, x.count, scale, root.split());
            matrix(w, p + "ffn_down_exps.weight", type.of(false, moreBits, true), x.ff, s.dim, x.count, (float) (1.0 / Math.sqrt(x.ff)), root.split());
            if (gptOss) {
                vector(w, p + "ffn_gate_inp.bias", x.count, 0f, 0.5f, root);
                w.addTensor(p + "ffn_gate_exps.bias", GGMLType.F32, new long[]{x.ff, x.count}, floats(x.ff * x.count, 0f, 0.5f, root));
                w.addTensor(p + "ffn_up_exps.bias", GGMLType.F32, new long[]{x.ff, x.count}, floats(x.ff * x.count, 0f, 0.5f, root));
                w.addTensor(p + "ffn_down_exps.bias", GGMLType.F32, new long[]{s.dim, x.count}, floats(s.dim * x.count, 0f, 0.5f, root));
            }
            if (x.sharedFf > 0) {
                vector(w, p + "ffn_gate_inp_shexp.weight", s.dim, 0f, 0.5f, root);
                matrix(w, p + "ffn_gate_shexp.weight", type.of(false, false, false), s.dim, x.sharedFf, 1, scale, root.split());
                matrix(w, p + "ffn_up_shexp.weight", type.of(false, false, false), s.dim, x.sharedFf, 1, scale, root.split());
                matrix(w, p + "ffn_down_shexp.weight", type.of(false, moreBits, false), x.sharedFf, s.dim, 1, (float) (1.0 / Math.sqrt(x.sharedFf)), root.split());
            }
        }
        w.write(out);
    }

    static void addVocabulary(GGUFWriter w, Vocab v) {
        if (v.model().equals("gpt2")) addBpeVocabulary(w, v);
        else addSpmVocabulary(w, v);
    }

    /**
     * A SentencePiece vocabulary: unk, bos, eos, the 256 byte-fallback tokens, then pieces built
     * from letters (scores descending so longer pieces merge last), enough to fill the size.
     */
    static void addSpmVocabulary(GGUFWriter w, Vocab v) {
        int n = v.size();
        List<String> tokens = new ArrayList<>(n);
        tokens.add("<unk>");
        tokens.add("<s>");
        tokens.add("</s>");
        for (int b = 0; b < 256; b++) tokens.add(String.format("<0x%02X>", b));
        String letters = "etaoinshrdlucmfwypvbgkjqxz";
        Set<String> seen = new HashSet<>(tokens);
        for (int len = 1; tokens.size() < n; len++) {
            int combos = (int) Math.min(Integer.MAX_VALUE, Math.pow(letters.length(), len));
            for (int c = 0; c < combos && tokens.size() < n; c++) {
                StringBuilder sb = new StringBuilder();
                for (int k = 0, x = c; k < len; k++, x /= letters.length()) sb.append(letters.charAt(x % letters.length()));
                for (String piece : new String[]{"\u2581" + sb, sb.toString()}) {
                    if (tokens.size() < n && seen.add(piece)) tokens.add(piece);
                }
            }
        }
        float[] scores = new float[n];
        int[] types = new int[n];
        for (int i = 0; i < n; i++) {
            types[i] = i == 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1;
            scores[i] = i < 259 ? 0f : -(i - 259);
        }
        w.putString("tokenizer.ggml.model", "llama");
        w.putString("tokenizer.ggml.pre", v.pre());
        w.putArray("tokenizer.ggml.tokens", tokens.toArray(String[]::new));
        w.putArray("tokenizer.ggml.scores", scores);
        w.putArray("tokenizer.ggml.token_type", types);
        w.putU32("tokenizer.ggml.unknown_token_id", 0);
        w.putU32("tokenizer.ggml.bos_token_id", 1);
        w.putU32("tokenizer.ggml.eos_token_id", 2);
        w.putBool("tokenizer.ggml.add_bos_token", true);
        w.putBool("tokenizer.ggml.add_eos_token", false);
        w.putBool("tokenizer.ggml.add_space_prefix", v.addSpacePrefix());
    }

    /**
     * A byte-level BPE vocabulary: the 256 byte symbols, then every merge of two symbols, then
     * of a two-symbol token and a symbol, in rank order, until three special tokens fill the size.
     */
    static void addBpeVocabulary(GGUFWriter w, Vocab v) {
        String[] specials = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
        int normal = v.size() - specials.length;
        List<String> tokens = new ArrayList<>(v.size());
        List<String> merges = new ArrayList<>(normal);
        String[] sym = new String[256];
        for (int b = 0; b < 256; b++) tokens.add(sym[b] = String.valueOf(ByteLevel.charOf(b)));
        for (int i = 0; i < 256 && tokens.size() < normal; i++) {
            for (int j = 0; j < 256 && tokens.size() < normal; j++) merge(tokens, merges, sym[i], sym[j]);
        }
        for (int t = 256; tokens.size() < normal; t++) {
            String left = tokens.get(t);
            for (int j = 0; j < 256 && tokens.size() < normal; j++) merge(tokens, merges, left, sym[j]);
        }
        int[] types = new int[v.size()];
        java.util.Arrays.fill(types, 1);
        for (int i = 0; i < specials.length; i++) {
            tokens.add(specials[i]);
            types[normal + i] = 3;
        }
        w.putString("tokenizer.ggml.model", "gpt2");
        w.putString("tokenizer.ggml.pre", v.pre());
        w.putArray("tokenizer.ggml.tokens", tokens.toArray(String[]::new));
        w.putArray("tokenizer.ggml.token_type", types);
        w.putArray("tokenizer.ggml.merges", merges.toArray(String[]::new));
        w.putU32("tokenizer.ggml.bos_token_id", normal);
        w.putU32("tokenizer.ggml.eos_token_id", normal + 2);
        w.putU32("tokenizer.ggml.padding_token_id", normal);
        w.putBool("tokenizer.ggml.add_bos_token", false);
    }

    private static void merge(List<String> tokens, List<String> merges, String left, String right) {
        tokens.add(left + right);
        merges.add(left + " " + right);
    }

    /** A 1-D F32 tensor (norm weights, biases, sinks) of values uniform in center ± spread. */
    static void vector(GGUFWriter w, String name, int n, float center, float spread, SplittableRandom rng) {
        w.addTensor(name, GGMLType.F32, new long[]{n}, floats(n, center, spread, rng));
    }

    private static byte[] floats(int n, float center, float spread, SplittableRandom rng) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = center + (float) (rng.nextDouble() * 2 - 1) * spread;
        return bytes(v);
    }

    private static byte[] bytes(float[] v) {
        byte[] bytes = new byte[v.length * 4];
        java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(v);
        return bytes;
    }

    /**
     * A rows × cols matrix (times {@code experts} stacked as a 3-D tensor when more than 1) of
     * uniform random values in [-scale·√3, scale·√3), quantized row by row as it is written. A
     * K-quant whose blocks the rows cannot fill falls back as llama-quantize does (Q4_K to Q5_0,
     * Q6_K to Q8_0, ...).
     */
    static void matrix(GGUFWriter w, String name, GGMLType type, int cols, int rows, int experts, float scale, SplittableRandom rng) {
        matrix(w, name, type, cols, rows, experts, scale, rng, POOL_ROWS);
    }

    /**
     * A token embedding or output matrix: every row its own, none copied from a pool. Copied rows
     * give tokens exactly equal logits, and greedy decoding then picks among the tie by engine
     * (llama.cpp's top-k sort leaves ties in no set order), so two engines' texts part at once.
     */
    static void vocabMatrix(GGUFWriter w, String name, GGMLType type, int cols, int rows, float scale, SplittableRandom rng) {
        matrix(w, name, type, cols, rows, 1, scale, rng, Integer.MAX_VALUE);
    }

    private static void matrix(GGUFWriter w, String name, GGMLType type, int cols, int rows, int experts, float scale, SplittableRandom rng,
                               int poolRows) {
        long seed = rng.nextLong();
        GGMLType t = cols % type.blockSize == 0 ? type : fallback(type);
        long[] dims = experts > 1 ? new long[]{cols, rows, experts} : new long[]{cols, rows};
        w.addTensor(name, t, dims, out -> writeRows(out, t, cols, Math.multiplyExact(rows, experts), scale, seed, poolRows));
    }

    /** llama-quantize's replacement for a type whose blocks a row length does not fill. */
    private static GGMLType fallback(GGMLType t) {
        return switch (t) {
            case Q4_K -> GGMLType.Q5_0;
            case Q5_K -> GGMLType.Q5_1;
            case Q6_K -> GGMLType.Q8_0;
            default -> GGMLType.F16;
        };
    }

    /**
     * Rows of a large tensor drawn from this many distinct random quantized rows: quantizing every
     * row of a 30B-parameter model in Java takes over an hour, and the bytes a forward pass
     * streams (every row has its own address) are the same either way.
     */
    static final int POOL_ROWS = 4096;

    private static void writeRows(OutputStream out, GGMLType type, int cols, int rows, float scale, long seed, int poolRows) throws IOException {
        Format f = Formats.of(type);
        long rowBytes = type.byteSize(cols);
        int chunkRows = (int) Math.max(1, Math.min(rows, (8L << 20) / rowBytes));
        float amp = scale * 1.7320508f;
        if (rows > poolRows) {
            int pool = poolRows;
            byte[] rowsOf = quantizeRows(f, cols, rowBytes, 0, pool, amp, seed);
            byte[] bytes = new byte[(int) (rowBytes * chunkRows)];
            for (int r0 = 0; r0 < rows; r0 += chunkRows) {
                int n = Math.min(chunkRows, rows - r0);
                for (int i = 0; i < n; i++) {
                    long r = r0 + i;
                    // Pool row r itself within the pool; beyond it a scrambled one, so neighbours differ.
                    int from = r < pool ? (int) r : (int) Long.remainderUnsigned((r * 0x9E3779B97F4A7C15L) ^ seed, pool);
                    System.arraycopy(rowsOf, (int) (from * rowBytes), bytes, (int) (i * rowBytes), (int) rowBytes);
                }
                out.write(bytes, 0, (int) (n * rowBytes));
            }
        } else {
            for (int r0 = 0; r0 < rows; r0 += chunkRows) {
                int n = Math.min(chunkRows, rows - r0);
                out.write(quantizeRows(f, cols, rowBytes, r0, n, amp, seed));
            }
        }
    }

    /** Random rows first..first+n-1 (each from its own seed, so a row is the same whatever the pooling), quantized. */
    private static byte[] quantizeRows(Format f, int cols, long rowBytes, int first, int n, float amp, long seed) {
        try (Arena arena = Arena.ofShared()) { // shared: worker threads quantize into it
            MemorySegment quantized = arena.allocate(rowBytes * n, 64);
            Parallel.forRange(n, (s, e) -> {
                float[] row = new float[cols];
                for (int i = s; i < e; i++) {
                    SplittableRandom rr = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + first + i);
                    for (int c = 0; c < cols; c++) row[c] = (float) (rr.nextDouble() * 2 - 1) * amp;
                    f.quantize(row, 0, cols, quantized, i * rowBytes);
                }
            });
            return quantized.toArray(ValueLayout.JAVA_BYTE);
        }
    }
}
