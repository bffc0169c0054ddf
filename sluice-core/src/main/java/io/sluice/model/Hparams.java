package io.sluice.model;

import io.sluice.gguf.GGUFException;
import io.sluice.gguf.GGUFFile;
import io.sluice.gguf.GGUFValue;

import java.util.Arrays;

/**
 * A model file's hyperparameters: the {@code ARCH.*} keys every transformer has, read and checked
 * once (as llama.cpp's common load_hparams does), plus typed, validated reads of the keys only
 * some architectures have. Any value that is absent where required, of the wrong type, or out of
 * range is one {@link GGUFException} naming the file and the key.
 */
public final class Hparams {
    public final GGUFFile file;
    public final String arch;
    public final int dim;
    public final int nLayers;
    /** Query heads, KV heads and feed-forward width of each layer (a key may be one number or one per layer). */
    public final int[] nHeads, nKvHeads, ffnDim;
    /** Values per head of K (and Q), and of V. */
    public final int headDim, valueDim;
    /** Leading dimensions of each head that RoPE rotates. */
    public final int ropeDim;
    public final int vocabSize;
    public final int contextLength;
    public final float rmsEps;
    public final float ropeBase;
    public final RopeScaling ropeScaling;
    /** Scaling factor as a frequency multiplier (1 / rope.scaling.factor), 1 without scaling. */
    public final float ropeFreqScale;
    /** {@code rope.scaling.attn_factor}: extra magnitude of the rotated Q and K. */
    public final float ropeAttnFactor;
    /** {@code rope.scaling.original_context_length}, else the trained context: where YaRN and LongRoPE start. */
    public final int ropeOrigContext;

    /** {@code ARCH.rope.scaling.type}. */
    public enum RopeScaling { NONE, LINEAR, YARN, LONGROPE }

    /** The largest dimensions a real model has, by far; beyond them a file is corrupt, not big. */
    private static final int MAX_DIM = 1 << 20, MAX_FFN = 1 << 24, MAX_LAYERS = 4096;

    public Hparams(GGUFFile f) {
        this.file = f;
        this.arch = f.requireString("general.architecture");
        this.dim = count("embedding_length", MAX_DIM);
        // Each layer has several tensors: a block count beyond the tensor count is corruption (and would
        // allocate per-layer tables for it before the first missing tensor is noticed).
        int layers = integer("block_count", 0);
        if (layers > f.tensors().size()) {
            throw new GGUFException(f.path() + ": block_count " + layers + " but the file holds only " + f.tensors().size() + " tensors");
        }
        this.nLayers = count("block_count", MAX_LAYERS);
        this.nHeads = perLayer("attention.head_count", -1, MAX_DIM);
        this.nKvHeads = has("attention.head_count_kv") ? perLayer("attention.head_count_kv", -1, MAX_DIM) : nHeads.clone();
        this.ffnDim = perLayer("feed_forward_length", -1, MAX_FFN);
        for (int l = 0; l < nLayers; l++) {
            if (nHeads[l] % nKvHeads[l] != 0) {
                throw error("attention.head_count_kv", "head_count " + nHeads[l] + " is not a multiple of head_count_kv " + nKvHeads[l]
                        + (nLayers > 1 ? " in layer " + l : ""));
            }
        }
        int defaultHead = dim / nHeads[0];
        this.headDim = count("attention.key_length", defaultHead, MAX_DIM);
        this.valueDim = count("attention.value_length", defaultHead, MAX_DIM);
        if ((long) Arrays.stream(nHeads).max().orElse(0) * headDim > MAX_DIM) {
            throw error("attention.key_length", "heads of " + headDim + " values make the model implausibly large");
        }
        this.ropeDim = integer("rope.dimension_count", headDim);
        if (ropeDim < 0 || ropeDim > headDim || ropeDim % 2 != 0) {
            throw error("rope.dimension_count", ropeDim + " does not fit heads of " + headDim + " values (it must be even and at most the head size)");
        }
        this.contextLength = count("context_length", 2048, Integer.MAX_VALUE);
        int vocab = f.has("tokenizer.ggml.tokens") ? f.getStringArray("tokenizer.ggml.tokens").length : 0; // names file and key if not an array
        this.vocabSize = has("vocab_size") ? count("vocab_size", Integer.MAX_VALUE) : vocab;
        this.rmsEps = positive("attention.layer_norm_rms_epsilon", 1e-5f);
        this.ropeBase = positive("rope.freq_base", 10000f);
        this.ropeScaling = ropeScalingType();
        float factor = has("rope.scaling.factor") ? nonNegative("rope.scaling.factor", 0f) : nonNegative("rope.scale_linear", 0f);
        // As llama.cpp: no factor (or 0) means no scaling, and scaling type "none" ignores any factor.
        this.ropeFreqScale = factor == 0f || ropeScaling == RopeScaling.NONE ? 1f : 1f / factor;
        this.ropeAttnFactor = positive("rope.scaling.attn_factor", 1f);
        this.ropeOrigContext = count("rope.scaling.original_context_length", contextLength, Integer.MAX_VALUE);
    }

    // ---- reads of ARCH.SUFFIX keys ----

    /** {@code arch + "." + suffix}. */
    public String key(String suffix) {
        return arch + "." + suffix;
    }

    public boolean has(String suffix) {
        return file.has(key(suffix));
    }

    /** The clear error for a bad value of ARCH.SUFFIX. */
    public GGUFException error(String suffix, String problem) {
        return new GGUFException(file.path() + ": metadata '" + key(suffix) + "': " + problem);
    }

    /** Any integer, default when absent. */
    public int integer(String suffix, int dflt) {
        return file.getInt(key(suffix), dflt);
    }

    /** A required count in 1..max. */
    public int count(String suffix, int max) {
        if (!has(suffix)) throw new GGUFException(file.path() + ": missing metadata key '" + key(suffix) + "'");
        return count(suffix, 1, max);
    }

    /** A count in 1..max, default when absent. */
    public int count(String suffix, int dflt, int max) {
        int v = integer(suffix, dflt);
        if (v <= 0 || v > max) throw error(suffix, v + " is outside 1.." + max);
        return v;
    }

    /** A window or period: 0 or more (a negative value is an error, not "off"). */
    public int nonNegativeInt(String suffix, int dflt) {
        int v = integer(suffix, dflt);
        if (v < 0) throw error(suffix, "must not be negative, is " + v);
        return v;
    }

    /** A finite number, default when absent. */
    public float number(String suffix, float dflt) {
        float v = file.getFloat(key(suffix), dflt);
        if (!Float.isFinite(v)) throw error(suffix, "must be a finite number, is " + v);
        return v;
    }

    /** A finite number above 0, default when absent. */
    public float positive(String suffix, float dflt) {
        float v = number(suffix, dflt);
        if (!(v > 0)) throw error(suffix, "must be above 0, is " + v);
        return v;
    }

    /** A finite number of 0 or more, default when absent. */
    public float nonNegative(String suffix, float dflt) {
        float v = number(suffix, dflt);
        if (v < 0) throw error(suffix, "must not be negative, is " + v);
        return v;
    }

    public boolean flag(String suffix, boolean dflt) {
        return file.getBoolean(key(suffix), dflt);
    }

    /**
     * One value per layer: the key holds one number for all layers or an array of one per layer,
     * each in 1..max. dflt &lt; 0 makes the key required.
     */
    public int[] perLayer(String suffix, int dflt, int max) {
        int[] out = new int[nLayers];
        GGUFValue v = file.get(key(suffix));
        if (v != null && v.isArray()) {
            int[] a = file.getIntArray(key(suffix));
            if (a.length != nLayers) throw error(suffix, "has " + a.length + " values for " + nLayers + " layers");
            for (int l = 0; l < nLayers; l++) {
                if (a[l] <= 0 || a[l] > max) throw error(suffix, "layer " + l + ": " + a[l] + " is outside 1.." + max);
                out[l] = a[l];
            }
            return out;
        }
        int x = dflt < 0 ? count(suffix, max) : count(suffix, dflt, max);
        Arrays.fill(out, x);
        return out;
    }

    /**
     * Which layers use the sliding window: {@code ARCH.attention.sliding_window_pattern} as one
     * period p (layer l is local unless l % p == p - 1; 0 makes every layer local), or an array of
     * one flag per layer. Absent: the architecture's default period.
     */
    public boolean[] slidingLayers(int defaultPeriod) {
        String suffix = "attention.sliding_window_pattern";
        boolean[] swa = new boolean[nLayers];
        GGUFValue v = file.get(key(suffix));
        if (v != null && v.isArray()) {
            int[] a = file.getIntArray(key(suffix));
            if (a.length != nLayers) throw error(suffix, "has " + a.length + " entries for " + nLayers + " layers");
            for (int l = 0; l < nLayers; l++) swa[l] = a[l] != 0;
            return swa;
        }
        int p = nonNegativeInt(suffix, defaultPeriod);
        if (v != null && p > nLayers) throw error(suffix, "period " + p + " is longer than the " + nLayers + " layers");
        for (int l = 0; l < nLayers; l++) swa[l] = p == 0 || l % p < p - 1;
        return swa;
    }

    private RopeScaling ropeScalingType() {
        String t = file.getString(key("rope.scaling.type"), "linear");
        return switch (t) {
            case "none" -> RopeScaling.NONE;
            case "linear" -> RopeScaling.LINEAR;
            case "yarn" -> RopeScaling.YARN;
            case "longrope" -> RopeScaling.LONGROPE;
            default -> throw error("rope.scaling.type", "unknown scaling '" + t + "' (none, linear, yarn, longrope)");
        };
    }
}
