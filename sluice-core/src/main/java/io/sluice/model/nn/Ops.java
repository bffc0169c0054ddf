package io.sluice.model.nn;

import io.sluice.tensor.VectorMath;

/** Elementwise steps between the matrix products: residual adds, biases, scaling, soft-capping. */
public final class Ops {
    private Ops() {
    }

    /** x[i] += y[i] for i &lt; n (the residual connection). */
    public static void add(float[] x, float[] y, int n) {
        VectorMath.add(x, y, n);
    }

    /** x[i] *= a for i &lt; n; nothing when a is 1. */
    public static void scale(float[] x, int n, float a) {
        if (a != 1f) VectorMath.scale(x, 0, n, a);
    }

    /** Adds bias to each of the rows of x (row width = bias length); nothing when bias is null. */
    public static void addBias(float[] x, float[] bias, int rows) {
        if (bias == null) return;
        int d = bias.length;
        for (int r = 0; r < rows; r++) VectorMath.axpy(1f, bias, 0, x, r * d, d);
    }

    /** Soft-capping x = cap · tanh(x / cap) for i &lt; n (Gemma 2's logits); nothing when cap is 0. */
    public static void softCap(float[] x, int n, float cap) {
        if (cap == 0f) return;
        for (int i = 0; i < n; i++) x[i] = cap * (float) Math.tanh(x[i] / cap);
    }
}
