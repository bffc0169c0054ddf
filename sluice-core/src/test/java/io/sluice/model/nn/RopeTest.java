package io.sluice.model.nn;

import io.sluice.model.Batch;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** RoPE's variants against their definitions, one pair at a time. */
class RopeTest {
    private static final int HEAD = 8;

    /** Rotates a head of ones-and-twos at position p and returns it. */
    private static float[] rotated(Rope.Spec s, int p) {
        Rope r = new Rope(s);
        Batch b = new Batch(1, 1);
        b.addSequence(new int[]{0});
        b.add(0, p, 0, true);
        r.prepare(b);
        float[] x = {1, 2, 3, 4, 5, 6, 7, 8};
        r.rotate(x, 1, 1);
        return x;
    }

    /** Pair (a, c) of {1..8} turned by angle times magnitude m. */
    private static void assertPair(float[] x, int a, int c, double angle, double m) {
        double x0 = a + 1, x1 = c + 1;
        assertEquals((x0 * Math.cos(angle) - x1 * Math.sin(angle)) * m, x[a], 1e-4, "value " + a);
        assertEquals((x0 * Math.sin(angle) + x1 * Math.cos(angle)) * m, x[c], 1e-4, "value " + c);
    }

    @Test
    void normalTurnsAdjacentPairsAndNeoxPairsHalfAHeadApart() {
        float[] n = rotated(Rope.Spec.plain(Rope.Type.NORMAL, HEAD, HEAD, 100f), 3);
        float[] x = rotated(Rope.Spec.plain(Rope.Type.NEOX, HEAD, HEAD, 100f), 3);
        for (int i = 0; i < HEAD / 2; i++) {
            double angle = 3 * Math.pow(100, -2.0 * i / HEAD);
            assertPair(n, 2 * i, 2 * i + 1, angle, 1);
            assertPair(x, i, i + HEAD / 2, angle, 1);
        }
    }

    @Test
    void partialRotaryLeavesTheTailOfEachHeadAlone() {
        float[] x = rotated(Rope.Spec.plain(Rope.Type.NEOX, 4, HEAD, 10f), 5);
        for (int i = 0; i < 2; i++) assertPair(x, i, i + 2, 5 * Math.pow(10, -2.0 * i / 4), 1);
        for (int i = 4; i < HEAD; i++) assertEquals(i + 1, x[i], 0f);
    }

    @Test
    void linearScalingFactorsAndAttentionFactor() {
        float[] f = {1f, 2f, 4f, 8f};
        Rope.Spec s = new Rope.Spec(Rope.Type.NORMAL, HEAD, HEAD, 100f, 0.25f, 0f, 1.5f, 32f, 1f, 64, f);
        float[] x = rotated(s, 7);
        for (int i = 0; i < HEAD / 2; i++) assertPair(x, 2 * i, 2 * i + 1, 7 * 0.25 * Math.pow(100, -2.0 * i / HEAD) / f[i], 1.5);
    }

    @Test
    void yarnKeepsFastPairsDividesSlowOnesAndRampsBetween() {
        // dims 8, base 10000, original context 16: correction range from floor(corr(32)) to ceil(corr(1)).
        int dims = 8, orig = 16;
        double base = 10000, factor = 4;
        Rope.Spec s = new Rope.Spec(Rope.Type.NEOX, dims, HEAD, (float) base, (float) (1 / factor), 1f, 1f, 32f, 1f, orig, null);
        float[] x = rotated(s, 9);
        double lo = Math.max(0, Math.floor(dims * Math.log(orig / (32 * 2 * Math.PI)) / (2 * Math.log(base))));
        double hi = Math.min(dims - 1, Math.ceil(dims * Math.log(orig / (1 * 2 * Math.PI)) / (2 * Math.log(base))));
        double m = 1 + 0.1 * Math.log(factor);
        for (int i = 0; i < dims / 2; i++) {
            double theta = Math.pow(base, -2.0 * i / dims);
            double ramp = 1 - Math.min(1, Math.max(0, (i - lo) / Math.max(0.001, hi - lo)));
            double angle = 9 * (theta / factor * (1 - ramp) + theta * ramp);
            assertPair(x, i, i + dims / 2, angle, m);
        }
    }
}
