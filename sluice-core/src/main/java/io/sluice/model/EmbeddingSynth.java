package io.sluice.model;

import io.sluice.gguf.GGMLType;
import io.sluice.gguf.GGUFWriter;
import io.sluice.model.nn.Pooling;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * {@link Synth}'s dummy models for embedding and reranking: random weights in the shape of a real
 * encoder (bge-small-en-v1.5, nomic-embed-text-v1.5) with a WordPiece vocabulary of the real size,
 * and tiny models of each embedding architecture (jina-bert-v2, gemma-embedding, a bert
 * cross-encoder, qwen3 as Qwen3-Embedding and as Qwen3-Reranker) for conformance tests. Every file
 * carries the tensors and keys llama.cpp reads for its architecture, so llama.cpp loads it too.
 */
public final class EmbeddingSynth {
    /** A reranker's classification head. */
    public enum Head {
        NONE,
        /** RoBERTa's: cls.weight (dim × dim, tanh) then cls.output.weight to one relevance logit (bge-reranker). */
        CROSS_ENCODER,
        /** Qwen3-Reranker's: cls.output.weight, the "yes" and "no" rows of an LM head. */
        YES_NO
    }

    /**
     * @param window     gemma-embedding's sliding window (0 for none)
     * @param denseWidth gemma-embedding's dense_2 output (0 for no dense projections)
     * @param matryoshka the widths the model is trained to truncate to (empty: not stated)
     */
    public record Shape(String name, String arch, int dim, int layers, int heads, int kvHeads, int headDim, int ffn, int vocab, int context,
                        float ropeTheta, Pooling pooling, Head head, int window, int denseWidth, int[] matryoshka) {
        /** Whether the vocabulary is WordPiece (the BERT family) rather than SentencePiece. */
        boolean wordPiece() {
            return arch.equals("bert") || arch.equals("nomic-bert") || arch.equals("jina-bert-v2");
        }
    }

    public static final List<Shape> SHAPES = List.of(
            new Shape("bge-small-en-v1.5", "bert", 384, 12, 12, 12, 32, 1536, 30522, 512, 0f, Pooling.CLS, Head.NONE, 0, 0, new int[0]),
            new Shape("nomic-embed-text-v1.5", "nomic-bert", 768, 12, 12, 12, 64, 3072, 30522, 2048, 1000f, Pooling.MEAN, Head.NONE, 0, 0,
                    new int[]{64, 128, 256, 512, 768}),
            new Shape("tiny-jina-bert-v2", "jina-bert-v2", 256, 2, 4, 4, 64, 64, 512, 512, 0f, Pooling.MEAN, Head.NONE, 0, 0, new int[0]),
            new Shape("tiny-gemma-embedding", "gemma-embedding", 256, 3, 4, 2, 64, 128, 512, 512, 10000f, Pooling.MEAN, Head.NONE, 6, 512,
                    new int[]{64, 128, 256}),
            new Shape("tiny-bge-reranker", "bert", 256, 2, 4, 4, 64, 64, 512, 512, 0f, Pooling.RANK, Head.CROSS_ENCODER, 0, 0, new int[0]),
            new Shape("tiny-qwen3-embedding", "qwen3", 256, 2, 4, 2, 64, 128, 512, 512, 1000000f, Pooling.LAST, Head.NONE, 0, 0, new int[0]),
            new Shape("tiny-qwen3-reranker", "qwen3", 256, 2, 4, 2, 64, 128, 512, 512, 1000000f, Pooling.RANK, Head.YES_NO, 0, 0, new int[0]));

    private EmbeddingSynth() {
    }

    /** The shape of this name, or null when it is not an embedding shape. */
    public static Shape find(String name) {
        for (Shape s : SHAPES) if (s.name.equalsIgnoreCase(name)) return s;
        return null;
    }

    /** Writes a random-weight model of the shape, matrices in the types {@code type} gives them. */
    public static void write(Shape s, Synth.TypeSpec type, long seed, Path out) throws IOException {
        GGUFWriter w = new GGUFWriter();
        String a = s.arch;
        boolean bertFamily = s.wordPiece();
        boolean gemma = a.equals("gemma-embedding");
        w.putString("general.architecture", a);
        w.putString("general.name", "sluice-dummy-" + s.name + "-" + type.base().toString().toLowerCase(Locale.ROOT));
        w.putU32("general.file_type", Synth.fileType(type));
        w.putU32(a + ".context_length", s.context);
        w.putU32(a + ".embedding_length", s.dim);
        w.putU32(a + ".block_count", s.layers);
        w.putU32(a + ".feed_forward_length", s.ffn);
        w.putU32(a + ".attention.head_count", s.heads);
        w.putU32(a + ".attention.head_count_kv", s.kvHeads);
        w.putU32(a + ".pooling_type", s.pooling.id());
        if (s.matryoshka.length > 0) w.putArray(a + ".matryoshka_dimensions", s.matryoshka);
        if (bertFamily) {
            w.putF32(a + ".attention.layer_norm_epsilon", 1e-12f);
            w.putBool(a + ".attention.causal", false);
            if (s.ropeTheta > 0) w.putF32(a + ".rope.freq_base", s.ropeTheta);
            addWordPieceVocabulary(w, s.vocab);
        } else {
            w.putU32(a + ".attention.key_length", s.headDim);
            w.putU32(a + ".attention.value_length", s.headDim);
            w.putU32(a + ".rope.dimension_count", s.headDim);
            w.putF32(a + ".rope.freq_base", s.ropeTheta);
            w.putF32(a + ".attention.layer_norm_rms_epsilon", 1e-6f);
            Synth.addVocabulary(w, Synth.Vocab.spm(s.vocab));
        }
        if (gemma) {
            w.putU32(a + ".attention.sliding_window", s.window);
            w.putU32(a + ".attention.sliding_window_pattern", 2);
            w.putF32(a + ".rope.freq_base_swa", 10000f);
            w.putU32(a + ".dense_2_feat_in", s.dim);
            w.putU32(a + ".dense_2_feat_out", s.denseWidth);
            w.putU32(a + ".dense_3_feat_in", s.denseWidth);
            w.putU32(a + ".dense_3_feat_out", s.dim);
        }
        if (s.head == Head.YES_NO) w.putArray(a + ".classifier.output_labels", new String[]{"yes", "no"});

        SplittableRandom root = new SplittableRandom(seed);
        GGMLType t = type.of(false, false, false);
        int qDim = s.heads * s.headDim, kv = s.kvHeads * s.headDim, d = s.dim;
        float scale = (float) (1.0 / Math.sqrt(d));
        Synth.vocabMatrix(w, "token_embd.weight", t, d, s.vocab, 1f, root.split());
        if (bertFamily) {
            if (a.equals("bert")) Synth.matrix(w, "position_embd.weight", GGMLType.F32, d, s.context, 1, 0.5f, root.split());
            Synth.matrix(w, "token_types.weight", GGMLType.F32, d, 2, 1, 0.5f, root.split());
            Synth.vector(w, "token_embd_norm.weight", d, 1f, 0.2f, root);
            Synth.vector(w, "token_embd_norm.bias", d, 0f, 0.2f, root);
        } else {
            Synth.vector(w, "output_norm.weight", d, 1f, 0.2f, root);
        }
        for (int l = 0; l < s.layers; l++) {
            String p = "blk." + l + ".";
            if (!bertFamily) Synth.vector(w, p + "attn_norm.weight", d, 1f, 0.2f, root);
            if (a.equals("nomic-bert")) {
                Synth.matrix(w, p + "attn_qkv.weight", t, d, qDim + 2 * kv, 1, scale, root.split());
            } else {
                Synth.matrix(w, p + "attn_q.weight", t, d, qDim, 1, scale, root.split());
                Synth.matrix(w, p + "attn_k.weight", t, d, kv, 1, scale, root.split());
                Synth.matrix(w, p + "attn_v.weight", t, d, kv, 1, scale, root.split());
            }
            if (a.equals("bert") || a.equals("jina-bert-v2")) {
                Synth.vector(w, p + "attn_q.bias", qDim, 0f, 0.2f, root);
                Synth.vector(w, p + "attn_k.bias", kv, 0f, 0.2f, root);
                Synth.vector(w, p + "attn_v.bias", kv, 0f, 0.2f, root);
            }
            if (a.equals("jina-bert-v2")) {
                Synth.vector(w, p + "attn_q_norm.weight", qDim, 1f, 0.2f, root);
                Synth.vector(w, p + "attn_q_norm.bias", qDim, 0f, 0.2f, root);
                Synth.vector(w, p + "attn_k_norm.weight", kv, 1f, 0.2f, root);
                Synth.vector(w, p + "attn_k_norm.bias", kv, 0f, 0.2f, root);
            }
            if (!bertFamily) {
                Synth.vector(w, p + "attn_q_norm.weight", s.headDim, 1f, 0.2f, root);
                Synth.vector(w, p + "attn_k_norm.weight", s.headDim, 1f, 0.2f, root);
            }
            Synth.matrix(w, p + "attn_output.weight", t, qDim, d, 1, (float) (1.0 / Math.sqrt(qDim)), root.split());
            if (bertFamily && !a.equals("nomic-bert")) Synth.vector(w, p + "attn_output.bias", d, 0f, 0.2f, root);
            if (bertFamily) {
                Synth.vector(w, p + "attn_output_norm.weight", d, 1f, 0.2f, root);
                Synth.vector(w, p + "attn_output_norm.bias", d, 0f, 0.2f, root);
            }
            if (a.equals("jina-bert-v2")) {
                Synth.vector(w, p + "attn_norm_2.weight", d, 1f, 0.2f, root);
                Synth.vector(w, p + "attn_norm_2.bias", d, 0f, 0.2f, root);
            }
            if (gemma) Synth.vector(w, p + "post_attention_norm.weight", d, 1f, 0.2f, root);
            if (!bertFamily) Synth.vector(w, p + "ffn_norm.weight", d, 1f, 0.2f, root);
            float downScale = (float) (1.0 / Math.sqrt(s.ffn));
            switch (a) {
                case "bert" -> {
                    Synth.matrix(w, p + "ffn_up.weight", t, d, s.ffn, 1, scale, root.split());
                    Synth.vector(w, p + "ffn_up.bias", s.ffn, 0f, 0.2f, root);
                }
                case "jina-bert-v2" -> { // gate | up in one tensor (jina's gated_layers)
                    Synth.matrix(w, p + "ffn_up.weight", t, d, 2 * s.ffn, 1, scale, root.split());
                    Synth.vector(w, p + "ffn_up.bias", 2 * s.ffn, 0f, 0.2f, root);
                }
                default -> {
                    Synth.matrix(w, p + "ffn_gate.weight", t, d, s.ffn, 1, scale, root.split());
                    Synth.matrix(w, p + "ffn_up.weight", t, d, s.ffn, 1, scale, root.split());
                }
            }
            Synth.matrix(w, p + "ffn_down.weight", t, s.ffn, d, 1, downScale, root.split());
            if (a.equals("bert") || a.equals("jina-bert-v2")) Synth.vector(w, p + "ffn_down.bias", d, 0f, 0.2f, root);
            if (gemma) Synth.vector(w, p + "post_ffw_norm.weight", d, 1f, 0.2f, root);
            if (bertFamily) {
                Synth.vector(w, p + "layer_output_norm.weight", d, 1f, 0.2f, root);
                Synth.vector(w, p + "layer_output_norm.bias", d, 0f, 0.2f, root);
            }
        }
        if (gemma) {
            Synth.matrix(w, "dense_2.weight", t, d, s.denseWidth, 1, scale, root.split());
            Synth.matrix(w, "dense_3.weight", t, s.denseWidth, d, 1, (float) (1.0 / Math.sqrt(s.denseWidth)), root.split());
        }
        switch (s.head) {
            case CROSS_ENCODER -> {
                Synth.matrix(w, "cls.weight", t, d, d, 1, scale, root.split());
                Synth.vector(w, "cls.bias", d, 0f, 0.2f, root);
                Synth.matrix(w, "cls.output.weight", GGMLType.F32, d, 1, 1, scale, root.split());
                Synth.vector(w, "cls.output.bias", 1, 0f, 0.2f, root);
            }
            case YES_NO -> Synth.matrix(w, "cls.output.weight", GGMLType.F32, d, 2, 1, scale, root.split());
            case NONE -> {
            }
        }
        w.write(out);
    }

    /**
     * A WordPiece vocabulary of n entries laid out as BERT's uncased one: [PAD] 0, [unused0..98],
     * [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103, then single characters (ASCII punctuation,
     * digits, letters), each as a word start ("▁" prefix, as GGUF stores BERT's vocabulary) and as
     * a continuation, then letter strings of growing length, so any lowercase ASCII text tokenizes.
     */
    static void addWordPieceVocabulary(GGUFWriter w, int n) {
        if (n < 200) throw new IllegalArgumentException("a WordPiece vocabulary needs at least 200 entries, not " + n);
        List<String> tokens = new ArrayList<>(n);
        tokens.add("[PAD]");
        for (int i = 0; i < 99; i++) tokens.add("[unused" + i + "]");
        tokens.add("[UNK]");
        tokens.add("[CLS]");
        tokens.add("[SEP]");
        tokens.add("[MASK]");
        Set<String> seen = new HashSet<>(tokens);
        StringBuilder chars = new StringBuilder();
        for (char c = '!'; c <= '~'; c++) if (!Character.isUpperCase(c)) chars.append(c);
        for (int i = 0; i < chars.length() && tokens.size() < n; i++) {
            String c = String.valueOf(chars.charAt(i));
            for (String piece : new String[]{"\u2581" + c, c}) if (tokens.size() < n && seen.add(piece)) tokens.add(piece);
        }
        String letters = "etaoinshrdlucmfwypvbgkjqxz";
        for (int len = 2; tokens.size() < n; len++) {
            long combos = (long) Math.pow(letters.length(), len);
            for (long c = 0; c < combos && tokens.size() < n; c++) {
                StringBuilder sb = new StringBuilder();
                for (long k = 0, x = c; k < len; k++, x /= letters.length()) sb.append(letters.charAt((int) (x % letters.length())));
                for (String piece : new String[]{"\u2581" + sb, sb.toString()}) if (tokens.size() < n && seen.add(piece)) tokens.add(piece);
            }
        }
        int[] types = new int[n];
        for (int i = 0; i < n; i++) types[i] = i == 100 ? 2 : i <= 103 ? 3 : 1;
        w.putString("tokenizer.ggml.model", "bert");
        w.putString("tokenizer.ggml.pre", "bert-bge");
        w.putArray("tokenizer.ggml.tokens", tokens.toArray(String[]::new));
        w.putArray("tokenizer.ggml.token_type", types);
        w.putU32("tokenizer.ggml.token_type_count", 2);
        w.putU32("tokenizer.ggml.bos_token_id", 101);
        w.putU32("tokenizer.ggml.seperator_token_id", 102);
        w.putU32("tokenizer.ggml.unknown_token_id", 100);
        w.putU32("tokenizer.ggml.padding_token_id", 0);
        w.putU32("tokenizer.ggml.mask_token_id", 103);
    }
}
