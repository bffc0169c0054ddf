package io.sluice.model.nn;

import io.sluice.model.Weights;
import io.sluice.tensor.Matrix;

/**
 * The Q, K and V projections of a layer's attention input, computed as one fused operation:
 * from attn_q/attn_k/attn_v, or from one attn_qkv (rows Q | K | V, split by view), with optional
 * biases (Qwen2's).
 */
public final class Qkv {
    private final Matrix[] qkv;
    private final float[] bq, bk, bv;

    private Qkv(Matrix[] qkv, float[] bq, float[] bk, float[] bv) {
        this.qkv = qkv;
        this.bq = bq;
        this.bk = bk;
        this.bv = bv;
    }

    /** Layer l's projections from dim inputs to qDim queries and kvDim keys and values. */
    public static Qkv load(Weights w, int l, int dim, int qDim, int kvDim) {
        String fused = Weights.layer(l, "attn_qkv.weight");
        if (w.has(fused)) {
            Matrix[] m = w.split(fused, dim, new String[]{"Q", "K", "V"}, qDim, kvDim, kvDim);
            float[] b = w.optionalVector(Weights.layer(l, "attn_qkv.bias"), qDim + 2 * kvDim);
            return b == null ? new Qkv(m, null, null, null)
                    : new Qkv(m, java.util.Arrays.copyOfRange(b, 0, qDim), java.util.Arrays.copyOfRange(b, qDim, qDim + kvDim),
                    java.util.Arrays.copyOfRange(b, qDim + kvDim, qDim + 2 * kvDim));
        }
        return new Qkv(new Matrix[]{w.matrix(Weights.layer(l, "attn_q.weight"), dim, qDim),
                w.matrix(Weights.layer(l, "attn_k.weight"), dim, kvDim), w.matrix(Weights.layer(l, "attn_v.weight"), dim, kvDim)},
                w.optionalVector(Weights.layer(l, "attn_q.bias"), qDim), w.optionalVector(Weights.layer(l, "attn_k.bias"), kvDim),
                w.optionalVector(Weights.layer(l, "attn_v.bias"), kvDim));
    }

    /** q, k, v = projections of the n rows of x (row-major, qDim and kvDim wide). */
    public void forward(float[] x, int n, float[] q, float[] k, float[] v) {
        Matrix.matmulAll(x, n, qkv, new float[][]{q, k, v});
        Ops.addBias(q, bq, n);
        Ops.addBias(k, bk, n);
        Ops.addBias(v, bv, n);
    }
}
