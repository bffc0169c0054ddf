package io.sluice.engine;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

class SamplerTest {
    private static SamplingParams params(float temp, int topK, float topP, float minP) {
        return new SamplingParams(temp, topK, topP, minP, 1f, 0f, 0f, 64, 42L, Map.of());
    }

    /** Logits whose softmax is exactly probs. */
    private static float[] fromProbs(double... probs) {
        float[] l = new float[probs.length];
        for (int i = 0; i < probs.length; i++) l[i] = (float) Math.log(probs[i]);
        return l;
    }

    private static Set<Integer> drawn(SamplingParams p, float[] logits, int n) {
        Sampler s = new Sampler(p, logits.length);
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < n; i++) seen.add(s.sample(logits, 0, -1).token());
        return seen;
    }

    @Test
    void sameSeedSameTokensDifferentSeedDifferentTokens() {
        float[] logits = new float[100];
        for (int i = 0; i < logits.length; i++) logits[i] = (float) Math.sin(i) * 2;
        SamplingParams p = new SamplingParams(1f, 0, 1f, 0f, 1f, 0f, 0f, 64, 1234L, Map.of());
        SamplingParams q = new SamplingParams(1f, 0, 1f, 0f, 1f, 0f, 0f, 64, 1235L, Map.of());
        int[] a = new int[200], b = new int[200], c = new int[200];
        Sampler sa = new Sampler(p, 100), sb = new Sampler(p, 100), sc = new Sampler(q, 100);
        for (int i = 0; i < 200; i++) {
            a[i] = sa.sample(logits, 0, -1).token();
            b[i] = sb.sample(logits, 0, -1).token();
            c[i] = sc.sample(logits, 0, -1).token();
        }
        assertArrayEquals(a, b);
        assertFalse(java.util.Arrays.equals(a, c));
        assertTrue(java.util.Arrays.stream(a).distinct().count() > 10, "temperature 1 over 100 tokens should vary");
    }

    @Test
    void greedyTakesTheArgmax() {
        float[] logits = {0.1f, 3f, 2.9f, -1f};
        Sampler s = new Sampler(SamplingParams.GREEDY, 4);
        for (int i = 0; i < 5; i++) assertEquals(1, s.sample(logits, 0, -1).token());
    }

    @Test
    void logitsAreReadAtTheirOffset() {
        float[] logits = {9f, 0f, 0f, 0f, 1f, 5f};
        assertEquals(2, new Sampler(SamplingParams.GREEDY, 3).sample(logits, 3, -1).token());
    }

    @Test
    void topKKeepsOnlyTheKMostLikely() {
        float[] logits = fromProbs(0.3, 0.25, 0.2, 0.15, 0.1);
        assertEquals(Set.of(0, 1), drawn(params(1f, 2, 1f, 0f), logits, 400));
        assertEquals(5, drawn(params(1f, 0, 1f, 0f), logits, 400).size(), "k = 0 keeps everything");
    }

    @Test
    void topPKeepsTheSmallestSetReachingP() {
        float[] logits = fromProbs(0.5, 0.3, 0.15, 0.05);
        assertEquals(Set.of(0, 1), drawn(params(1f, 0, 0.75f, 0f), logits, 400));
        assertEquals(Set.of(0, 1, 2), drawn(params(1f, 0, 0.85f, 0f), logits, 600));
    }

    @Test
    void minPDropsTokensBelowAFractionOfTheBest() {
        float[] logits = fromProbs(0.5, 0.3, 0.12, 0.08);
        // min_p 0.2: threshold 0.1 keeps 0.5, 0.3, 0.12 and drops 0.08
        assertEquals(Set.of(0, 1, 2), drawn(params(1f, 0, 1f, 0.2f), logits, 600));
        assertEquals(Set.of(0), drawn(params(1f, 0, 1f, 0.9f), logits, 100));
    }

    @Test
    void temperatureSharpensOrFlattensAsSoftmaxOfLogitsOverT() {
        double[] probs = {0.4, 0.3, 0.2, 0.1};
        float[] logits = fromProbs(probs);
        for (float t : new float[]{0.3f, 1f, 3f}) {
            double norm = 0;
            for (double q : probs) norm += Math.pow(q, 1 / t);
            double expected = Math.pow(probs[0], 1 / t) / norm;
            Sampler s = new Sampler(params(t, 0, 1f, 0f), 4);
            int n = 4000, hits = 0;
            for (int i = 0; i < n; i++) if (s.sample(logits, 0, -1).token() == 0) hits++;
            // 5 standard deviations of a binomial proportion
            double tol = 5 * Math.sqrt(expected * (1 - expected) / n);
            assertEquals(expected, hits / (double) n, tol, "T=" + t);
        }
    }

    @Test
    void repeatPenaltyDividesPositiveAndMultipliesNegativeLogits() {
        SamplingParams p = new SamplingParams(0f, 0, 1f, 0f, 2f, 0f, 0f, 64, 0L, Map.of());
        Sampler s = new Sampler(p, 4);
        s.accept(0);
        s.accept(1);
        float[] w = {4f, -4f, 4f, -4f};
        s.applyBiasAndPenalties(w);
        assertArrayEquals(new float[]{2f, -8f, 4f, -4f}, w);
    }

    /** A penalty window longer than the context is the context: token 0, 3 positions back, is outside a context of 2. */
    @Test
    void penaltyWindowIsCappedByTheContext() {
        SamplingParams p = new SamplingParams(0f, 0, 1f, 0f, 2f, 0f, 0f, 1 << 20, 0L, Map.of());
        Sampler s = new Sampler(p, 4, 2);
        s.accept(0);
        s.accept(1);
        s.accept(2);
        float[] w = {4f, 4f, 4f, 4f};
        s.applyBiasAndPenalties(w);
        assertArrayEquals(new float[]{4f, 2f, 2f, 4f}, w);
    }

    @Test
    void frequencyAndPresencePenaltiesSubtractPerOccurrenceAndOnce() {
        SamplingParams p = new SamplingParams(0f, 0, 1f, 0f, 1f, 0.5f, 0.25f, 64, 0L, Map.of());
        Sampler s = new Sampler(p, 3);
        s.accept(0);
        s.accept(0);
        s.accept(0);
        s.accept(1);
        float[] w = {1f, 1f, 1f};
        s.applyBiasAndPenalties(w);
        assertArrayEquals(new float[]{1f - 1.5f - 0.25f, 1f - 0.5f - 0.25f, 1f}, w, 1e-6f);
    }

    @Test
    void penaltiesOnlySeeTheLastNTokens() {
        SamplingParams p = new SamplingParams(0f, 0, 1f, 0f, 1f, 1f, 0f, 2, 0L, Map.of());
        Sampler s = new Sampler(p, 3);
        s.accept(0);
        s.accept(1);
        s.accept(2);   // token 0 leaves the 2-token window
        assertEquals(0, s.count(0));
        assertEquals(1, s.count(1));
        assertEquals(1, s.count(2));
    }

    @Test
    void penaltiesChangeTheGreedyChoice() {
        float[] logits = {5f, 4.5f, 1f};
        SamplingParams p = new SamplingParams(0f, 0, 1f, 0f, 1.3f, 0f, 0f, 64, 0L, Map.of());
        Sampler s = new Sampler(p, 3);
        assertEquals(0, s.sample(logits, 0, -1).token());
        s.accept(0);
        assertEquals(1, s.sample(logits, 0, -1).token(), "5/1.3 < 4.5");
    }

    @Test
    void logitBiasCanBanOrForceTokens() {
        float[] logits = {5f, 4f, 1f};
        Map<Integer, Float> ban = new HashMap<>();
        ban.put(0, Float.NEGATIVE_INFINITY);
        SamplingParams p = new SamplingParams(0f, 0, 1f, 0f, 1f, 0f, 0f, 64, 0L, ban);
        assertEquals(1, new Sampler(p, 3).sample(logits, 0, -1).token());
        SamplingParams boost = new SamplingParams(1f, 0, 1f, 0f, 1f, 0f, 0f, 64, 9L, Map.of(2, 100f));
        assertEquals(Set.of(2), drawn(boost, logits, 50));
        assertEquals(Set.of(1), drawn(new SamplingParams(1f, 0, 1f, 0f, 1f, 0f, 0f, 64, 9L, ban), new float[]{5f, 4f, -200f}, 50),
                "banned token never drawn, negligible token not drawn either");
    }

    @Test
    void logprobsAreTheModelsLogSoftmaxWithTopAlternatives() {
        float[] logits = fromProbs(0.1, 0.6, 0.3);
        Sampler s = new Sampler(SamplingParams.GREEDY, 3);
        Sampler.Result r = s.sample(logits, 0, 2);
        assertEquals(1, r.token());
        assertEquals(Math.log(0.6), r.logprob(), 1e-5);
        assertArrayEquals(new int[]{1, 2}, r.topIds());
        assertEquals(Math.log(0.3), r.topLogprobs()[1], 1e-5);
        Sampler.Result none = s.sample(logits, 0, -1);
        assertTrue(Float.isNaN(none.logprob()));
        assertEquals(0, none.topIds().length);
    }

    @Test
    void nanLogitsAreAnError() {
        float[] logits = {1f, Float.NaN};
        assertThrows(IllegalStateException.class, () -> new Sampler(SamplingParams.GREEDY, 2).sample(logits, 0, -1));
        // The in-place greedy scan checks every position, the first one and those after the maximum too.
        assertThrows(IllegalStateException.class, () -> new Sampler(SamplingParams.GREEDY, 3).sample(new float[]{Float.NaN, 1f, 2f}, 0, -1));
        assertThrows(IllegalStateException.class, () -> new Sampler(SamplingParams.GREEDY, 3).sample(new float[]{3f, 1f, Float.NaN}, 0, 2));
        for (int at : new int[]{0, 7, 16, 31, 63, 64, 99}) {
            float[] wide = new float[101];
            wide[5] = 9f;
            wide[1 + at] = Float.NaN;
            assertThrows(IllegalStateException.class, () -> new Sampler(SamplingParams.GREEDY, 100).sample(wide, 1, -1), "NaN at " + at);
        }
    }

    @Test
    void plainGreedyAgreesWithTheBiasedPathOnTiesSignedZerosAndInfinities() {
        // A zero bias sends the same request down the general (copying) path; both must choose alike.
        SamplingParams viaBias = new SamplingParams(0f, 0, 1f, 0f, 1f, 0f, 0f, 64, 0L, Map.of(0, 0f));
        java.util.Random rng = new java.util.Random(7);
        float[] pool = {-0f, 0f, 1f, 1f, -1f, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, 2.5f};
        for (int trial = 0; trial < 2000; trial++) {
            // Lengths below, at and across vector widths (the scan is vectorized), at odd offsets.
            int n = 1 + rng.nextInt(trial % 2 == 0 ? 12 : 100), offset = rng.nextInt(3);
            float[] logits = new float[offset + n];
            for (int i = 0; i < logits.length; i++) logits[i] = pool[rng.nextInt(pool.length)];
            Sampler.Result fast = new Sampler(SamplingParams.GREEDY, n).sample(logits, offset, 1);
            Sampler.Result general = new Sampler(viaBias, n).sample(logits, offset, 1);
            assertEquals(general.token(), fast.token(), java.util.Arrays.toString(logits) + " @" + offset);
            assertEquals(general.logprob(), fast.logprob(), 0f);
            assertArrayEquals(general.topIds(), fast.topIds());
        }
    }

    @Test
    void aMaskLimitsTheChoiceToAllowedTokens() {
        java.util.SplittableRandom rng = new java.util.SplittableRandom(5);
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + rng.nextInt(300);
            float[] logits = new float[n + 3];
            for (int i = 0; i < logits.length; i++) logits[i] = (float) rng.nextGaussian() * 3;
            if (rng.nextBoolean()) logits[3 + rng.nextInt(n)] = logits[3]; // ties
            long[] mask = new long[(n + 63) / 64];
            int density = rng.nextInt(4);
            for (int t = 0; t < n; t++) if (density == 3 || rng.nextInt(4) < density) mask[t >>> 6] |= 1L << t;
            int forced = rng.nextInt(n);
            mask[forced >>> 6] |= 1L << forced;
            int best = -1;
            for (int t = 0; t < n; t++) {
                if ((mask[t >>> 6] & (1L << t)) != 0 && (best < 0 || logits[3 + t] > logits[3 + best])) best = t;
            }
            Sampler greedy = new Sampler(SamplingParams.GREEDY, n);
            assertEquals(best, greedy.sample(logits, 3, -1, mask).token(), "greedy picks the first best allowed token");
            Sampler penalized = new Sampler(new SamplingParams(0f, 0, 1f, 0f, 1.3f, 0f, 0f, 64, 1, Map.of()), n);
            assertEquals(best, penalized.sample(logits, 3, -1, mask).token(), "the general greedy path agrees (nothing penalized yet)");
            Sampler hot = new Sampler(new SamplingParams(1.5f, trial % 2 == 0 ? 0 : 5, 1f, 0f, 1f, 0f, 0f, 64, trial, Map.of()), n);
            for (int k = 0; k < 20; k++) {
                int t = hot.sample(logits, 3, 2, mask).token();
                assertTrue((mask[t >>> 6] & (1L << t)) != 0, "sampled token " + t + " is allowed");
            }
        }
    }
}
