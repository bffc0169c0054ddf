package io.sluice.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vectorized loops over float arrays for the model's elementwise steps and attention: dot
 * products, y += a·x, scaling, RMSNorm, residual adds and SwiGLU. Each has a scalar tail, so any
 * length works.
 */
public final class VectorMath {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();

    private VectorMath() {
    }

    /** Sum of a[ao+i] * b[bo+i] for i &lt; n. */
    public static float dot(float[] a, int ao, float[] b, int bo, int n) {
        int i = 0;
        FloatVector acc = FloatVector.zero(F);
        for (int bound = F.loopBound(n); i < bound; i += L) {
            acc = FloatVector.fromArray(F, a, ao + i).fma(FloatVector.fromArray(F, b, bo + i), acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += a[ao + i] * b[bo + i];
        return s;
    }

    /** y[yo+i] += a * x[xo+i] for i &lt; n. */
    public static void axpy(float a, float[] x, int xo, float[] y, int yo, int n) {
        int i = 0;
        FloatVector va = FloatVector.broadcast(F, a);
        for (int bound = F.loopBound(n); i < bound; i += L) {
            FloatVector.fromArray(F, x, xo + i).fma(va, FloatVector.fromArray(F, y, yo + i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) y[yo + i] += a * x[xo + i];
    }

    /** x[o+i] *= a for i &lt; n. */
    public static void scale(float[] x, int o, int n, float a) {
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += L) FloatVector.fromArray(F, x, o + i).mul(a).intoArray(x, o + i);
        for (; i < n; i++) x[o + i] *= a;
    }

    /** x[i] += y[i] for i &lt; n. */
    public static void add(float[] x, float[] y, int n) {
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += L) FloatVector.fromArray(F, x, i).add(FloatVector.fromArray(F, y, i)).intoArray(x, i);
        for (; i < n; i++) x[i] += y[i];
    }

    /** out[o..o+n) = x[o..o+n) / rms(x[o..o+n)) * w[0..n), rms over the n values plus eps. */
    public static void rmsnorm(float[] out, float[] x, int o, float[] w, int n, float eps) {
        int i = 0;
        FloatVector acc = FloatVector.zero(F);
        for (int bound = F.loopBound(n); i < bound; i += L) {
            FloatVector v = FloatVector.fromArray(F, x, o + i);
            acc = v.fma(v, acc);
        }
        double ss = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) ss += x[o + i] * x[o + i];
        float r = (float) (1.0 / Math.sqrt(ss / n + eps));
        i = 0;
        for (int bound = F.loopBound(n); i < bound; i += L) {
            FloatVector.fromArray(F, x, o + i).mul(r).mul(FloatVector.fromArray(F, w, i)).intoArray(out, o + i);
        }
        for (; i < n; i++) out[o + i] = x[o + i] * r * w[i];
    }

    /** SwiGLU: g[i] = silu(g[i]) * u[i] = g / (1 + e^-g) * u, for i in [start, end). */
    public static void swiglu(float[] g, float[] u, int start, int end) {
        int i = start;
        for (int bound = start + F.loopBound(end - start); i < bound; i += L) {
            FloatVector x = FloatVector.fromArray(F, g, i);
            FloatVector sig = x.neg().lanewise(VectorOperators.EXP).add(1f);
            x.div(sig).mul(FloatVector.fromArray(F, u, i)).intoArray(g, i);
        }
        for (; i < end; i++) g[i] = g[i] / (1f + (float) Math.exp(-g[i])) * u[i];
    }
}
