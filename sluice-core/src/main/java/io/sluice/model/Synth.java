package io.sluice.model;

import io.sluice.gguf.GGMLType;
import io.sluice.gguf.GGUFWriter;
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
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Dummy models (vLLM's --load-format dummy): random weights in the shape of a real model, with a
 * synthetic SentencePiece tokenizer, written as a GGUF file llama.cpp loads too. Benchmarks need no
 * download; speed depends only on shape and tensor type.
 */
public final class Synth {
    /** A real model's shape. */
    public record Shape(String name, String arch, int dim, int layers, int heads, int kvHeads, int ffn, int vocab,
                        int context, float ropeTheta, boolean tied) {
    }

    public static final List<Shape> SHAPES = List.of(
            new Shape("tinyllama-1.1b", "llama", 2048, 22, 32, 4, 5632, 32000, 2048, 10000f, false),
            new Shape("llama-3.2-1b", "llama", 2048, 16, 32, 8, 8192, 128256, 131072, 500000f, true),
            new Shape("smollm-135m", "llama", 576, 30, 9, 3, 1536, 49152, 2048, 10000f, true),
            new Shape("qwen2.5-0.5b", "qwen2", 896, 24, 14, 2, 4864, 151936, 32768, 1000000f, true),
            new Shape("qwen2.5-1.5b", "qwen2", 1536, 28, 12, 2, 8960, 151936, 32768, 1000000f, true),
            new Shape("tiny", "llama", 256, 2, 8, 2, 768, 512, 2048, 10000f, false),
            new Shape("tiny-qwen2", "qwen2", 256, 2, 8, 2, 768, 512, 2048, 1000000f, true));

    private Synth() {
    }

    public static Shape shape(String name) {
        for (Shape s : SHAPES) if (s.name.equalsIgnoreCase(name)) return s;
        throw new IllegalArgumentException("unknown shape '" + name + "'; known: "
                + String.join(", ", SHAPES.stream().map(Shape::name).toList()));
    }

    /** Parses a type name as llama.cpp spells it (q4_0, q8_0, f16, q4_k_m, ...); "q4_k_m" returns Q4_K with mixed=true. */
    public record TypeSpec(GGMLType base, boolean mixedQ4KM) {
        public static TypeSpec parse(String s) {
            String t = s.trim().toUpperCase(Locale.ROOT);
            if (t.equals("Q4_K_M")) return new TypeSpec(GGMLType.Q4_K, true);
            if (t.equals("Q4_K_S")) t = "Q4_K";
            try {
                GGMLType g = GGMLType.valueOf(t);
                if (!Formats.supports(g)) throw new IllegalArgumentException();
                return new TypeSpec(g, false);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unsupported type '" + s + "' (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k..q6_k, iq4_nl, iq4_xs, iq3_s, iq3_xxs, iq2_s, iq2_xs, iq2_xxs, iq1_m, iq1_s, tq1_0, tq2_0, mxfp4, q4_k_m)");
            }
        }
    }

    /** llama.cpp's llama_ftype number for the file (only informative: tools print it). */
    static int fileType(TypeSpec t) {
        if (t.mixedQ4KM) return 15;
        return switch (t.base) {
            case F32 -> 0; case F16 -> 1; case Q4_0 -> 2; case Q4_1 -> 3; case Q8_0 -> 7; case Q5_0 -> 8; case Q5_1 -> 9;
            case Q2_K -> 10; case Q3_K -> 12; case Q4_K -> 14; case Q5_K -> 16; case Q6_K -> 18; case BF16 -> 32;
            case IQ2_XXS -> 19; case IQ2_XS -> 20; case IQ3_XXS -> 23; case IQ1_S -> 24; case IQ4_NL -> 25; case IQ3_S -> 26;
            case IQ2_S -> 28; case IQ4_XS -> 30; case IQ1_M -> 31; case TQ1_0 -> 36; case TQ2_0 -> 37; case MXFP4 -> 38;
            default -> 0;
        };
    }

    /** Writes a random-weight model of {@code shape} with 2-D weights in {@code type}. */
    public static void write(Shape s, TypeSpec type, long seed, Path out) throws IOException {
        GGUFWriter w = new GGUFWriter();
        String a = s.arch;
        w.putString("general.architecture", a);
        w.putString("general.name", "sluice-dummy-" + s.name + "-" + (type.mixedQ4KM ? "q4_k_m" : type.base.name().toLowerCase(Locale.ROOT)));
        w.putU32("general.file_type", fileType(type));
        w.putU32(a + ".context_length", s.context);
        w.putU32(a + ".embedding_length", s.dim);
        w.putU32(a + ".block_count", s.layers);
        w.putU32(a + ".feed_forward_length", s.ffn);
        w.putU32(a + ".attention.head_count", s.heads);
        w.putU32(a + ".attention.head_count_kv", s.kvHeads);
        w.putU32(a + ".rope.dimension_count", s.dim / s.heads);
        w.putF32(a + ".rope.freq_base", s.ropeTheta);
        w.putF32(a + ".attention.layer_norm_rms_epsilon", 1e-5f);
        w.putU32(a + ".vocab_size", s.vocab);
        addVocabulary(w, s.vocab);

        SplittableRandom root = new SplittableRandom(seed);
        int headDim = s.dim / s.heads, kv = s.kvHeads * headDim;
        float scale = (float) (1.0 / Math.sqrt(s.dim));
        // Q4_K_M keeps the most sensitive tensors at 6 bits, as llama.cpp's recipe does.
        GGMLType outType = type.mixedQ4KM ? GGMLType.Q6_K : type.base;
        matrix(w, "token_embd.weight", type.base, s.dim, s.vocab, 1f, root.split());
        vector(w, "output_norm.weight", s.dim, 1f);
        if (!s.tied) matrix(w, "output.weight", outType, s.dim, s.vocab, scale, root.split());
        for (int l = 0; l < s.layers; l++) {
            String p = "blk." + l + ".";
            boolean moreBits = type.mixedQ4KM && (l < s.layers / 8 || l >= 7 * s.layers / 8 || (l - s.layers / 8) % 3 == 2);
            GGMLType sensitive = moreBits ? GGMLType.Q6_K : type.base;
            vector(w, p + "attn_norm.weight", s.dim, 1f);
            matrix(w, p + "attn_q.weight", type.base, s.dim, s.dim, scale, root.split());
            matrix(w, p + "attn_k.weight", type.base, s.dim, kv, scale, root.split());
            matrix(w, p + "attn_v.weight", sensitive, s.dim, kv, scale, root.split());
            if (a.equals("qwen2")) {
                vector(w, p + "attn_q.bias", s.dim, 0f);
                vector(w, p + "attn_k.bias", kv, 0f);
                vector(w, p + "attn_v.bias", kv, 0f);
            }
            matrix(w, p + "attn_output.weight", type.base, s.dim, s.dim, scale, root.split());
            vector(w, p + "ffn_norm.weight", s.dim, 1f);
            matrix(w, p + "ffn_gate.weight", type.base, s.dim, s.ffn, scale, root.split());
            matrix(w, p + "ffn_up.weight", type.base, s.dim, s.ffn, scale, root.split());
            matrix(w, p + "ffn_down.weight", sensitive, s.ffn, s.dim, (float) (1.0 / Math.sqrt(s.ffn)), root.split());
        }
        w.write(out);
    }

    /**
     * A SentencePiece vocabulary: unk, bos, eos, the 256 byte-fallback tokens, then pieces built
     * from letters (scores descending so longer pieces merge last), enough to fill {@code n}.
     */
    static void addVocabulary(GGUFWriter w, int n) {
        List<String> tokens = new ArrayList<>(n);
        tokens.add("<unk>");
        tokens.add("<s>");
        tokens.add("</s>");
        for (int b = 0; b < 256; b++) tokens.add(String.format("<0x%02X>", b));
        String letters = "etaoinshrdlucmfwypvbgkjqxz";
        java.util.Set<String> seen = new java.util.HashSet<>(tokens);
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
        w.putArray("tokenizer.ggml.tokens", tokens.toArray(String[]::new));
        w.putArray("tokenizer.ggml.scores", scores);
        w.putArray("tokenizer.ggml.token_type", types);
        w.putU32("tokenizer.ggml.unknown_token_id", 0);
        w.putU32("tokenizer.ggml.bos_token_id", 1);
        w.putU32("tokenizer.ggml.eos_token_id", 2);
        w.putBool("tokenizer.ggml.add_bos_token", true);
        w.putBool("tokenizer.ggml.add_eos_token", false);
    }

    private static void vector(GGUFWriter w, String name, int n, float value) {
        float[] v = new float[n];
        java.util.Arrays.fill(v, value);
        byte[] bytes = new byte[n * 4];
        java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(v);
        w.addTensor(name, GGMLType.F32, new long[]{n}, bytes);
    }

    /** A rows × cols matrix of uniform random values in [-scale·√3, scale·√3), quantized row by row as it is written. */
    private static void matrix(GGUFWriter w, String name, GGMLType type, int cols, int rows, float scale, SplittableRandom rng) {
        long seed = rng.nextLong();
        w.addTensor(name, type, new long[]{cols, rows}, out -> writeRows(out, type, cols, rows, scale, seed));
    }

    private static void writeRows(OutputStream out, GGMLType type, int cols, int rows, float scale, long seed) throws IOException {
        Format f = Formats.of(type);
        long rowBytes = type.byteSize(cols);
        int chunkRows = (int) Math.max(1, Math.min(rows, (8L << 20) / rowBytes));
        float amp = scale * 1.7320508f;
        try (Arena arena = Arena.ofShared()) { // shared: worker threads quantize into it
            MemorySegment buf = arena.allocate(rowBytes * chunkRows, 64);
            byte[] bytes = new byte[(int) (rowBytes * chunkRows)];
            for (int r0 = 0; r0 < rows; r0 += chunkRows) {
                int n = Math.min(chunkRows, rows - r0);
                int first = r0;
                Parallel.forRange(n, (s, e) -> {
                    float[] row = new float[cols];
                    for (int r = s; r < e; r++) {
                        SplittableRandom rr = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + first + r);
                        for (int c = 0; c < cols; c++) row[c] = (float) (rr.nextDouble() * 2 - 1) * amp;
                        f.quantize(row, 0, cols, buf, r * rowBytes);
                    }
                });
                MemorySegment.copy(buf, ValueLayout.JAVA_BYTE, 0, bytes, 0, (int) (n * rowBytes));
                out.write(bytes, 0, (int) (n * rowBytes));
            }
        }
    }
}
