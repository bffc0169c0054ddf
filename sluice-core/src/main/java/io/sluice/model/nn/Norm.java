package io.sluice.model.nn;

import io.sluice.tensor.Parallel;
import io.sluice.tensor.VectorMath;

/**
 * Normalisations over rows of a row-major [rows × width] buffer: RMSNorm (width = the weight's
 * length), per-head RMSNorm of Q or K (each head of a row on its own), and LayerNorm with bias.
 * Rows are spread over the worker threads when there are many.
 */
public final class Norm {
    private Norm() {
    }

    /** Rows per parallel chunk: a decode step's single row stays on the calling thread. */
    private static final int GRAIN = 16;

    /** out[r] = x[r] / rms(x[r]) * w, for each of the rows; out may be x. */
    public static void rms(float[] out, float[] x, float[] w, int rows, float eps) {
        int d = w.length;
        Parallel.forRange(rows, GRAIN, (s, e) -> {
            for (int r = s; r < e; r++) VectorMath.rmsnorm(out, x, r * d, w, d, eps);
        });
    }

    /** The post-norm residual of Gemma 2/3 and OLMo 2: x += rms(y) * w row by row; y is left normed. */
    public static void addRms(float[] x, float[] y, float[] w, int rows, float eps) {
        rms(y, y, w, rows, eps);
        Ops.add(x, y, rows * w.length);
    }

    /**
     * RMSNorm of every head of every row in place: x holds rows of {@code heads} heads of w.length
     * values each (Qwen3's and Gemma 3's Q/K norms, before RoPE).
     */
    public static void rmsPerHead(float[] x, float[] w, int rows, int heads, float eps) {
        int d = w.length;
        Parallel.forRange(rows * heads, GRAIN, (s, e) -> {
            for (int h = s; h < e; h++) VectorMath.rmsnorm(x, x, h * d, w, d, eps);
        });
    }

    /** LayerNorm: out[r] = (x[r] - mean) / sqrt(var + eps) * w + b (b may be null); out may be x. */
    public static void layer(float[] out, float[] x, float[] w, float[] b, int rows, float eps) {
        int d = w.length;
        Parallel.forRange(rows, GRAIN, (s, e) -> {
            for (int r = s; r < e; r++) {
                int o = r * d;
                double sum = 0;
                for (int i = 0; i < d; i++) sum += x[o + i];
                float mean = (float) (sum / d);
                double var = 0;
                for (int i = 0; i < d; i++) {
                    float c = x[o + i] - mean;
                    var += c * c;
                }
                float inv = (float) (1.0 / Math.sqrt(var / d + eps));
                for (int i = 0; i < d; i++) out[o + i] = (x[o + i] - mean) * inv * w[i] + (b != null ? b[i] : 0f);
            }
        });
    }
}
