package io.sluice.tensor;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The vectorized loops against plain scalar loops, at lengths with and without a scalar tail. */
class VectorMathTest {
    private static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian() * 3;
        return a;
    }

    @Test
    void matchesScalarLoops() {
        for (int n : new int[]{1, 7, 16, 64, 100, 2048}) {
            float[] a = random(n + 3, n), b = random(n + 5, n + 1);
            double ref = 0;
            for (int i = 0; i < n; i++) ref += a[3 + i] * b[5 + i];
            assertEquals(ref, VectorMath.dot(a, 3, b, 5, n), 1e-4 * n, "dot n=" + n);

            float[] y = b.clone();
            VectorMath.axpy(0.5f, a, 3, y, 5, n);
            for (int i = 0; i < n; i++) assertEquals(b[5 + i] + 0.5f * a[3 + i], y[5 + i], 1e-5, "axpy");

            float[] g = a.clone(), u = b.clone();
            VectorMath.swiglu(g, u, 2, n);
            for (int i = 2; i < n; i++) {
                double silu = a[i] / (1 + Math.exp(-a[i]));
                assertEquals(silu * b[i], g[i], 1e-4 * (1 + Math.abs(silu * b[i])), "swiglu " + i);
            }
            assertEquals(a[0], g[0]); // outside the range: untouched

            float[] w = random(n, 9), out = new float[n + 3];
            VectorMath.rmsnorm(out, a, 3, w, n, 1e-5f);
            double ss = 0;
            for (int i = 0; i < n; i++) ss += a[3 + i] * (double) a[3 + i];
            double r = 1 / Math.sqrt(ss / n + 1e-5);
            for (int i = 0; i < n; i++) assertEquals(a[3 + i] * r * w[i], out[3 + i], 1e-4 * (1 + Math.abs(a[3 + i] * r * w[i])), "rmsnorm");
        }
    }
}
