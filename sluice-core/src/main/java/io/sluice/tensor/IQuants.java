package io.sluice.tensor;

/**
 * The quantizer side of the lattice ("grid") i-quants. llama.cpp's quantizers for these formats
 * search neighbourhoods of lattice points under an importance matrix and are not reproduced here:
 * Sluice's is a documented, straightforward one. Each group of values goes to the grid point
 * nearest to its per-coordinate rounding (a map from every tuple of levels to its nearest point,
 * built once per grid), signs as the values' own (with the format's even-parity rule where it
 * stores 7 of 8 sign bits: the smallest magnitude gives way). A sub-block's step is chosen among
 * candidates that put its largest magnitude on each level (and between levels, for grids of few
 * levels), each refitted by least squares on the points it chose, the best kept; then all steps
 * are encoded against the super-block scale and the points chosen again at the encoded steps. The blocks are valid ggml blocks; their error
 * is within a small factor of llama-quantize's on the same weights (the round-trip tests bound it).
 */
final class IQuants {
    private IQuants() {
    }

    /** A grid of points of {@code width} values drawn from a few levels, with its nearest-point map. */
    static final class Codebook {
        final byte[] points;
        final int width;
        final float[] levels;
        private final boolean signed;
        private volatile short[] map;

        Codebook(byte[] points, int width, boolean signed) {
            this.points = points;
            this.width = width;
            this.signed = signed;
            java.util.TreeSet<Integer> lv = new java.util.TreeSet<>();
            for (byte b : points) lv.add(signed ? (int) b : b & 0xFF);
            levels = new float[lv.size()];
            int i = 0;
            for (int v : lv) levels[i++] = v;
            // the levels a sub-block's largest magnitude is tried on (with midpoints when there are few)
            int k = levels.length <= 4 ? 2 * levels.length - 1 : levels.length;
            startLevels = new float[k];
            for (int j = 0; j < k; j++) startLevels[j] = k == levels.length ? levels[j] : j % 2 == 0 ? levels[j / 2] : (levels[j / 2] + levels[j / 2 + 1]) / 2;
        }

        /** Where {@link #bestStep} tries to put the largest magnitude. */
        final float[] startLevels;

        int count() {
            return points.length / width;
        }

        /** Value j of point p. */
        int value(int p, int j) {
            byte b = points[p * width + j];
            return signed ? b : b & 0xFF;
        }

        /** The point nearest to v[o .. o + width) (values in level units) via its nearest tuple of levels. */
        int nearest(float[] v, int o) {
            short[] m = map();
            int code = 0;
            for (int j = width - 1; j >= 0; j--) code = code * levels.length + nearestLevel(v[o + j]);
            return m[code];
        }

        private int nearestLevel(float v) {
            int best = 0;
            float bestErr = Math.abs(v - levels[0]);
            for (int i = 1; i < levels.length; i++) {
                float e = Math.abs(v - levels[i]);
                if (e < bestErr) {
                    bestErr = e;
                    best = i;
                }
            }
            return best;
        }

        /** For every tuple of levels (digit j = coordinate j), the index of the nearest point (squared distance, first on ties). */
        private short[] map() {
            short[] m = map;
            if (m != null) return m;
            int tuples = 1;
            for (int j = 0; j < width; j++) tuples *= levels.length;
            m = new short[tuples];
            float[] t = new float[width];
            for (int code = 0; code < tuples; code++) {
                for (int j = 0, c = code; j < width; j++, c /= levels.length) t[j] = levels[c % levels.length];
                int best = 0;
                float bestD = Float.MAX_VALUE;
                for (int p = 0; p < count() && bestD > 0; p++) {
                    float d = 0;
                    for (int j = 0; j < width; j++) {
                        float e = t[j] - value(p, j);
                        d += e * e;
                    }
                    if (d < bestD) {
                        bestD = d;
                        best = p;
                    }
                }
                m[code] = (short) best;
            }
            return map = m;
        }
    }

    static final Codebook IQ2XXS = new Codebook(IQGrids.IQ2XXS, 8, false);
    static final Codebook IQ2XS = new Codebook(IQGrids.IQ2XS, 8, false);
    static final Codebook IQ2S = new Codebook(IQGrids.IQ2S, 8, false);
    static final Codebook IQ3XXS = new Codebook(IQGrids.IQ3XXS, 4, false);
    static final Codebook IQ3S = new Codebook(IQGrids.IQ3S, 4, false);
    static final Codebook IQ1S = new Codebook(IQGrids.IQ1S, 8, true);

    /**
     * Sign bits of the 8 values at x[o..] (bit j: value j is negative). With {@code evenParity}
     * an odd count is made even by flipping the sign of the smallest magnitude, as the formats that
     * store only 7 sign bits require.
     */
    static int signs(float[] x, int o, boolean evenParity) {
        int s = 0;
        for (int j = 0; j < 8; j++) if (x[o + j] < 0) s |= 1 << j;
        if (evenParity && (Integer.bitCount(s) & 1) != 0) {
            int min = 0;
            for (int j = 1; j < 8; j++) if (Math.abs(x[o + j]) < Math.abs(x[o + min])) min = j;
            s ^= 1 << min;
        }
        return s;
    }

    /**
     * Chooses the points of one 8-value group of magnitude-grid formats at step {@code dl}: writes
     * point indices into pts[po..] (8 / width of them), returns the group's sign bits; adds
     * sum(x q) and sum(q q) of the chosen values q into fit[0], fit[1].
     */
    static int group(Codebook cb, float[] x, int o, float dl, boolean evenParity, int[] pts, int po, float[] mags, float[] fit) {
        int s = signs(x, o, evenParity);
        float id = dl != 0 ? 1 / dl : 0;
        for (int j = 0; j < 8; j++) mags[j] = Math.abs(x[o + j]) * id;
        for (int k = 0; k < 8 / cb.width; k++) {
            int p = cb.nearest(mags, k * cb.width);
            pts[po + k] = p;
            for (int j = 0; j < cb.width; j++) {
                int jj = k * cb.width + j;
                float q = ((s >>> jj) & 1) != 0 ? -cb.value(p, j) : cb.value(p, j);
                fit[0] += x[o + jj] * q;
                fit[1] += q * q;
            }
        }
        return s;
    }

    /**
     * The step for the n values at x[o..] (groups of 8): the best least-squares refit over starting
     * steps that map their largest magnitude to each of the grid's levels; 0 for an all-zero run.
     */
    static float bestStep(Codebook cb, float[] x, int o, int n, boolean evenParity, int[] pts, float[] mags, float[] fit) {
        float amax = absMax(x, o, n);
        if (!(amax > 0)) return 0;
        float best = amax / cb.levels[cb.levels.length - 1], bestGain = -1;
        for (float level : cb.startLevels) {
            float start = amax / level;
            fit[0] = fit[1] = 0;
            for (int l = 0; l < n / 8; l++) group(cb, x, o + 8 * l, start, evenParity, pts, 0, mags, fit);
            if (fit[1] > 0 && fit[0] > 0 && fit[0] * fit[0] / fit[1] > bestGain) {
                bestGain = fit[0] * fit[0] / fit[1];
                best = fit[0] / fit[1];
            }
        }
        return best;
    }

    /**
     * The best step ({@link #bestStep}) of each of the {@code step.length} runs of n values from
     * x[o..] into step[]; returns the largest, which sets the super-block's scale d.
     */
    static float bestSteps(Codebook cb, float[] x, int o, int n, boolean evenParity, int[] pts, float[] mags, float[] fit, float[] step) {
        float max = 0;
        for (int h = 0; h < step.length; h++) {
            step[h] = bestStep(cb, x, o + n * h, n, evenParity, pts, mags, fit);
            max = Math.max(max, step[h]);
        }
        return max;
    }

    /** The least-squares step for the chosen points, or the starting step when they are all zero. */
    static float refit(float[] fit, float start) {
        return fit[1] > 0 && fit[0] > 0 ? fit[0] / fit[1] : start;
    }

    static float absMax(float[] x, int o, int n) {
        float m = 0;
        for (int i = 0; i < n; i++) m = Math.max(m, Math.abs(x[o + i]));
        return m;
    }

    /**
     * The integer field s in [0, max] whose step d * (a + b s) is nearest to {@code step}
     * (steps of the form d(2s+1)/8, d(1+2s), ...), 0 when d is 0.
     */
    static int field(float step, float d, float a, float b, int max) {
        if (!(d > 0)) return 0;
        return Math.clamp(Math.round((step / d - a) / b), 0, max);
    }
}
