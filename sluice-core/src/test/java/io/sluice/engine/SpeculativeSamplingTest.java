package io.sluice.engine;

import io.sluice.gguf.GGMLType;
import io.sluice.model.KvStore;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The speculative sampling rule keeps the target's distribution: tokens chosen by accepting or
 * rejecting guesses (from a draft distribution, or certain ones as prompt lookup makes) are
 * distributed as plain draws, checked by chi-square tests at fixed seeds (so they cannot flake), and
 * the engine's generations at temperature 1 have the same token frequencies with and without guesses.
 */
class SpeculativeSamplingTest {
    private static final int V = 24, TRIALS = 200_000;
    /** Chi-square critical values at p = 1e-4 are below these for the degrees of freedom used (at most 23). */
    private static final double CRITICAL = 60;

    /** The distribution plain sampling draws from: softmax(logits / T) over the top-k (all when 0). */
    private static double[] target(float[] logits, float temp, int topK) {
        Integer[] order = new Integer[V];
        for (int i = 0; i < V; i++) order[i] = i;
        java.util.Arrays.sort(order, (a, b) -> Float.compare(logits[b], logits[a]));
        int k = topK == 0 ? V : topK;
        double[] p = new double[V];
        double sum = 0;
        for (int j = 0; j < k; j++) sum += p[order[j]] = Math.exp((logits[order[j]] - logits[order[0]]) / temp);
        for (int i = 0; i < V; i++) p[i] /= sum;
        return p;
    }

    private static double chiSquare(long[] counts, double[] p, long n) {
        double chi = 0;
        for (int i = 0; i < p.length; i++) {
            if (p[i] == 0) {
                assertEquals(0, counts[i], "token " + i + " has no probability but was chosen");
                continue;
            }
            double e = p[i] * n;
            chi += (counts[i] - e) * (counts[i] - e) / e;
        }
        return chi;
    }

    @Test
    void acceptingAndRejectingDraftGuessesKeepsTheTargetDistribution() {
        SplittableRandom r = new SplittableRandom(7);
        for (int c = 0; c < 3; c++) {
            float temp = c == 0 ? 1f : c == 1 ? 0.7f : 1.3f;
            int topK = c == 1 ? 6 : 0;
            float[] logits = new float[V];
            for (int i = 0; i < V; i++) logits[i] = (float) (r.nextGaussian() * 1.5);
            // A draft that is somewhat like the target, and misses some of it.
            int[] ids = new int[V / 2];
            float[] q = new float[V / 2];
            double qs = 0;
            for (int i = 0; i < ids.length; i++) {
                ids[i] = i * 2;
                q[i] = (float) Math.exp(logits[i * 2] + r.nextGaussian());
                qs += q[i];
            }
            for (int i = 0; i < q.length; i++) q[i] /= (float) qs;
            Sampler.Draw draw = new Sampler.Draw(ids[0], ids, q);
            Sampler s = new Sampler(new SamplingParams(temp, topK, 1f, 0f, 1f, 0f, 0f, 0, 11 + c, Map.of()), V);
            long[] counts = new long[V];
            long kept = 0;
            for (int t = 0; t < TRIALS; t++) {
                double u = r.nextDouble(), acc = 0;
                int guess = ids[ids.length - 1];
                for (int i = 0; i < ids.length; i++) if (u < (acc += q[i])) { guess = ids[i]; break; }
                int tok = s.sampleSpeculative(logits, 0, -1, null, guess, draw).token();
                counts[tok]++;
                if (tok == guess) kept++;
            }
            double chi = chiSquare(counts, target(logits, temp, topK), TRIALS);
            assertTrue(chi < CRITICAL, "case " + c + ": chi-square " + chi);
            assertTrue(kept > TRIALS / 10 && kept < TRIALS, "case " + c + ": guesses were both kept and refused (" + kept + ")");
        }
    }

    @Test
    void certainGuessesFromPromptLookupKeepTheTargetDistribution() {
        SplittableRandom r = new SplittableRandom(8);
        float[] logits = new float[V];
        for (int i = 0; i < V; i++) logits[i] = (float) r.nextGaussian();
        Sampler s = new Sampler(new SamplingParams(1f, 0, 1f, 0f, 1f, 0f, 0f, 0, 3, Map.of()), V);
        for (int guess : new int[]{0, 5, 17}) {
            long[] counts = new long[V];
            for (int t = 0; t < TRIALS; t++) counts[s.sampleSpeculative(logits, 0, -1, null, guess, null).token()]++;
            double chi = chiSquare(counts, target(logits, 1f, 0), TRIALS);
            assertTrue(chi < CRITICAL, "guess " + guess + ": chi-square " + chi);
        }
    }

    @Test
    void underAMaskTheRuleKeepsTheMaskedDistribution() {
        SplittableRandom r = new SplittableRandom(9);
        float[] logits = new float[V];
        for (int i = 0; i < V; i++) logits[i] = (float) r.nextGaussian();
        long[] allowed = {0b1010_1010_1010_1010_1010_1010L};
        float[] masked = logits.clone();
        for (int i = 0; i < V; i++) if ((allowed[0] & (1L << i)) == 0) masked[i] = Float.NEGATIVE_INFINITY;
        double[] p = target(masked, 1f, 0);
        Sampler s = new Sampler(new SamplingParams(1f, 0, 1f, 0f, 1f, 0f, 0f, 0, 4, Map.of()), V);
        long[] counts = new long[V];
        // Guesses the mask refuses (even ids) and allows (odd ids) alike.
        for (int t = 0; t < TRIALS; t++) counts[s.sampleSpeculative(logits, 0, -1, allowed, t % V, null).token()]++;
        assertTrue(chiSquare(counts, p, TRIALS) < CRITICAL);
    }

    @Test
    void engineGenerationsAtTemperatureOneHaveTheSameFrequenciesWithGuesses() throws Exception {
        int n = 3000, len = 4;
        long[][] plain = frequencies(Speculation.OFF, n, len), guessed = frequencies(Speculation.draft(new SpeculativeDecodingTest.WrongSometimes(64, 2), 3), n, len);
        // Two-sample chi-square per generated position (tokens after the first are the ones guesses decide).
        for (int pos = 1; pos < len; pos++) {
            double chi = 0;
            int df = -1;
            for (int t = 0; t < FakeModel.VOCAB; t++) {
                long a = plain[pos][t], b = guessed[pos][t];
                if (a + b == 0) continue;
                chi += (double) (a - b) * (a - b) / (a + b);
                df++;
            }
            // p = 1e-4 for df up to ~40.
            assertTrue(chi < 2 * df + 40, "position " + pos + ": chi-square " + chi + " with " + df + " degrees of freedom");
        }
    }

    private static long[][] frequencies(Speculation spec, int n, int len) throws Exception {
        long kvBytes = 400 * KvStore.bytesPerBlock(new FakeModel(64).kvLayout(), 4, GGMLType.F32);
        long[][] f = new long[len][FakeModel.VOCAB];
        // Flatter than FakeModel's raw logits (0..16): temperature 4 keeps several tokens likely.
        SamplingParams base = new SamplingParams(4f, 0, 1f, 0f, 1f, 0f, 0f, 0, 0, Map.of());
        try (LlmEngine e = new LlmEngine(new FakeModel(64), new EngineConfig(kvBytes, 0, 4, GGMLType.F32, 64, 16, n, 64), spec)) {
            if (e.draftPolicy() != null) e.draftPolicy().stepTimes.assume(1, 0);
            Collector[] cs = new Collector[n];
            for (int i = 0; i < n; i++) {
                SamplingParams sp = new SamplingParams(base.temperature(), 0, 1f, 0f, 1f, 0f, 0f, 0, 1000 + i, Map.of());
                cs[i] = new Collector();
                e.submit(new GenerationRequest(new int[]{3, 1, 4}, sp, len, List.of(), true, -1), cs[i]);
            }
            for (Collector c : cs) {
                c.await();
                for (int p = 0; p < len; p++) f[p][c.ids.get(p)]++;
            }
            if (spec.enabled()) assertTrue(e.metrics().draftedTokens() > n, "guesses were verified: " + e.metrics());
        }
        return f;
    }
}
