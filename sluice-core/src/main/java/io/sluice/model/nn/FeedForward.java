package io.sluice.model.nn;

/**
 * The feed-forward half of a transformer block: a dense gated FFN ({@link Ffn}) or a mixture of
 * experts ({@link Moe}), so that an architecture with both variants (qwen3 and qwen3moe, llama
 * and Mixtral) writes its blocks once.
 */
public interface FeedForward {
    /** out = FFN(x) for n rows (out may be x); gate and up are work buffers of n × {@link #width()} floats. */
    void forward(float[] x, int n, float[] gate, float[] up, float[] out);

    /** Floats per token the gate and up work buffers must hold (0 when the block keeps its own). */
    int width();

    /** The widest work buffers of these blocks. */
    static int maxWidth(FeedForward[] ffns) {
        int w = 0;
        for (FeedForward f : ffns) w = Math.max(w, f.width());
        return w;
    }
}
