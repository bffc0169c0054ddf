package io.sluice.engine;

import java.util.Arrays;
import java.util.List;

/**
 * How many guesses each decoding sequence gets this step, and from which source: SmartSpec's goodput
 * rule (Liu et al., "Optimizing Speculative Decoding for Serving Large Language Models Using
 * Goodput"). With a sequence's acceptance rate a, its j-th guess is kept with probability a^j, so k
 * guesses are expected to add a + a^2 + ... + a^k tokens to the one a step always yields. The step's
 * time grows with its tokens (measured: {@link StepTimes}) and with the draft model's passes (one per
 * guessed position, batched over the sequences it guesses for; prompt lookup costs nothing). Guesses
 * are handed out one at a time, each where it raises the step's expected tokens per second the most,
 * while that still rises. A small batch gets long drafts (its pass costs about the same for a few more
 * rows); a full batch, whose every extra row costs, gets none.
 *
 * <p>Acceptance is estimated per sequence and per source from decayed counts of kept and refused
 * guesses, so a sequence whose guesses stop matching soon stops drafting, and one that starts repeating
 * its prompt picks up again. With both sources ({@code --speculate auto} and a draft model) each
 * sequence takes, each step, the source promising the better goodput: a prompt-lookup match with a good
 * record (free) over the draft model, the draft model where the lookup finds nothing or its guesses
 * have stopped being kept. Policy only: the scheduler asks it, nothing here touches the model.
 */
final class DraftPolicy {
    /** Weight of the past in the acceptance counts per verification (about the last 10 matter). */
    private static final double DECAY = 0.9;

    private final int draftMax;
    private final int draftMin;
    private final int contextLength;
    private final Drafter drafter;
    final StepTimes stepTimes;

    DraftPolicy(Speculation spec, int contextLength, int maxBatchedTokens, Drafter drafter) {
        this.draftMax = spec.draftMax();
        this.draftMin = spec.draftMin();
        this.contextLength = contextLength;
        this.drafter = drafter;
        this.stepTimes = new StepTimes(maxBatchedTokens);
    }

    /** s's estimated chance that a guess from src is kept (starts at 1/2). */
    static double acceptance(Sequence s, Drafter.Source src) {
        int i = src.ordinal();
        return (s.keptRecently[i] + 1) / (s.keptRecently[i] + s.refusedRecently[i] + 2);
    }

    /** Records a verification: of `drafted` guesses from src the first `kept` were kept. */
    static void observe(Sequence s, Drafter.Source src, int drafted, int kept) {
        if (drafted == 0) return;
        int i = src.ordinal();
        s.drafted[i] += drafted;
        s.accepted[i] += kept;
        s.keptRecently[i] = s.keptRecently[i] * DECAY + kept;
        s.refusedRecently[i] = s.refusedRecently[i] * DECAY + (kept < drafted ? 1 : 0);
    }

    /**
     * Guesses per sequence for a step of `tokens` tokens so far, with at most `spareTokens` more
     * tokens and `spareRows` more logits rows; each entry is 0 or in draftMin..draftMax. Sets each
     * sequence's {@link Sequence#draftSource}.
     */
    int[] lengths(List<Sequence> decodes, int tokens, int spareTokens, int spareRows) {
        int n = decodes.size();
        int[] k = new int[n];
        int[] cap = new int[n];
        double[] a = new double[n];
        boolean[] byModel = new boolean[n];
        double time = stepTimes.seconds(tokens), passCost = drafter.secondsPerDraftStep(n);
        for (int i = 0; i < n; i++) {
            Sequence s = decodes.get(i);
            int c = Math.min(draftMax, contextLength - s.length);
            // The step yields one token beyond the guesses: guessing past max_tokens is waste.
            if (s.request.maxTokens() > 0) c = Math.min(c, s.request.maxTokens() - s.generated - 1);
            cap[i] = choose(s, Math.max(0, c), n, tokens, passCost);
            a[i] = acceptance(s, s.draftSource);
            byModel[i] = s.draftSource == Drafter.Source.DRAFT;
        }
        int budget = Math.min(spareTokens, spareRows);
        double expected = n;
        // The draft model's passes this step: as many as its longest draft.
        int passes = 0;
        while (budget > 0) {
            int best = -1;
            double bestRate = expected / time, bestTime = 0;
            for (int i = 0; i < n; i++) {
                if (k[i] >= cap[i]) continue;
                double t = stepTimes.seconds(tokens + 1) + (byModel[i] ? Math.max(passes, k[i] + 1) : passes) * passCost;
                double rate = (expected + Math.pow(a[i], k[i] + 1)) / t;
                if (rate > bestRate) {
                    bestRate = rate;
                    bestTime = t;
                    best = i;
                }
            }
            if (best < 0) break;
            expected += Math.pow(a[best], k[best] + 1);
            k[best]++;
            if (byModel[best]) passes = Math.max(passes, k[best]);
            tokens++;
            budget--;
            time = bestTime;
        }
        for (int i = 0; i < n; i++) if (k[i] < draftMin) k[i] = 0;
        return k;
    }

    /**
     * Sets s's source for this step: of the drafter's sources, the one whose guesses promise the step
     * the most tokens per second (as if s alone guessed, at the best length up to what the source
     * offers), from s's acceptance of each and what each costs; returns how many guesses it offers.
     * A source s has never had verified goes first: until then its acceptance is only the prior, and
     * a well-kept other source would never let it be measured.
     */
    private int choose(Sequence s, int max, int n, int tokens, double passCost) {
        List<Drafter.Source> sources = drafter.sources();
        s.draftSource = sources.getFirst();
        int[] offers = new int[sources.size()];
        for (int i = 0; i < offers.length; i++) {
            Drafter.Source src = sources.get(i);
            offers[i] = max == 0 ? 0 : drafter.offered(s, src, max);
            if (offers[i] > 0 && sources.size() > 1 && s.drafted[src.ordinal()] == 0) {
                s.draftSource = src;
                return offers[i];
            }
        }
        int offer = 0;
        double bestRate = 0;
        for (int i = 0; i < offers.length; i++) {
            Drafter.Source src = sources.get(i);
            int m = offers[i];
            double a = acceptance(s, src), cost = src == Drafter.Source.DRAFT ? passCost : 0, kept = 0, p = 1;
            for (int j = 1; j <= m; j++) {
                p *= a;
                kept += p;
                double rate = (n + kept) / (stepTimes.seconds(tokens + j) + j * cost);
                if (rate > bestRate) {
                    bestRate = rate;
                    s.draftSource = src;
                    offer = m;
                }
            }
        }
        return offer;
    }

    /**
     * Measured seconds per forward pass by its token count: a moving average per count, forgotten
     * when that count has not been seen for a while (the first passes run cold, before the JIT and
     * the page cache warm up, and a stale figure would keep the policy from ever trying that count
     * again). Where nothing recent is measured it assumes what the multi-row kernels promise, and no
     * more: each further token costs 1/16 of a 16-token pass (1/16 of a one-token pass below 16), at
     * most what a linear interpolation to the next measured count gives. A count the policy picks is
     * measured by that very step, so a wrong guess corrects itself.
     */
    static final class StepTimes {
        private static final double WEIGHT = 0.2;
        private static final int ROWS_PER_PASS = 16;
        /** Observations after which an unrefreshed count is forgotten. */
        private static final long STALE = 256;
        private final double[] ema;
        private final long[] seenAt;
        private long observations;
        /** ceiling(n) for every n, as of observation ceilingAt. */
        private final double[] ceilings;
        private long ceilingAt = -1;

        StepTimes(int maxTokens) {
            ema = new double[maxTokens + 2];
            seenAt = new long[maxTokens + 2];
            ceilings = new double[maxTokens + 2];
        }

        /** Test hook: pins the model to base + perToken * tokens seconds, ignoring what is measured. */
        void assume(double base, double perToken) {
            assumedBase = base;
            assumedPerToken = perToken;
        }

        private double assumedBase = -1, assumedPerToken;

        void observe(int tokens, long nanos) {
            if (tokens <= 0 || tokens >= ema.length || nanos <= 0) return;
            double s = nanos / 1e9;
            ema[tokens] = known(tokens) ? ema[tokens] * (1 - WEIGHT) + s * WEIGHT : s;
            seenAt[tokens] = ++observations;
        }

        /** Whether anything recent was measured. */
        boolean measured() {
            if (assumedBase >= 0) return true;
            for (int n = 1; n < ema.length; n++) if (known(n)) return true;
            return false;
        }

        private boolean known(int n) {
            return ema[n] > 0 && observations - seenAt[n] < STALE;
        }

        double seconds(int tokens) {
            if (assumedBase >= 0) return assumedBase + assumedPerToken * tokens;
            int n = Math.clamp(tokens, 1, ema.length - 1);
            return Math.min(estimate(n), ceiling(n + 1));
        }

        /**
         * The least recent figure for a pass of n or more tokens: more tokens never cost less. A small
         * count measured cold (the first decode step, JIT-compiling) is never measured again once the
         * policy guesses every step, and unbounded it made a one-token pass look 17x dearer than a
         * nine-token one, so every step guessed the longest draft even with none of its guesses kept.
         */
        private double ceiling(int n) {
            if (ceilingAt != observations) {
                double least = Double.POSITIVE_INFINITY;
                for (int m = ema.length - 1; m >= 1; m--) {
                    if (known(m)) least = Math.min(least, ema[m]);
                    ceilings[m] = least;
                }
                ceilingAt = observations;
            }
            return n < ema.length ? ceilings[n] : Double.POSITIVE_INFINITY;
        }

        private double estimate(int n) {
            if (known(n)) return ema[n];
            int lo = n - 1, hi = n + 1;
            while (lo >= 1 && !known(lo)) lo--;
            while (hi < ema.length && !known(hi)) hi++;
            if (lo < 1) return hi < ema.length ? ema[hi] : 1 + (double) (n - 1) / ROWS_PER_PASS; // nothing below: flat, or relative units
            double prior = ema[lo] * (1 + (double) (n - lo) / Math.max(lo, ROWS_PER_PASS));
            if (hi < ema.length) return Math.min(prior, ema[lo] + (ema[hi] - ema[lo]) * (n - lo) / (hi - lo));
            return prior;
        }

        @Override
        public String toString() {
            return Arrays.toString(ema);
        }
    }
}
