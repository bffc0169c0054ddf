package io.sluice.engine;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Chooses the next token of one request from the model's logits, the way llama.cpp's default
 * sampler chain does: logit bias, then repetition/frequency/presence penalties over the last
 * {@code penaltyLastN} tokens, then top-k, top-p, min-p, temperature, and a draw from the
 * remaining distribution. Temperature 0 is greedy (argmax after bias and penalties).
 *
 * <p>Each request has its own sampler: its RNG is seeded from {@link SamplingParams#seed()} (the
 * same seed gives the same draws; seed -1 picks a random one) and it remembers the tokens of the
 * context for the penalties ({@link #accept}). Not thread-safe; the engine thread drives it.
 *
 * <p>Logprobs describe the model's own distribution: log-softmax of the raw logits, before bias,
 * penalties, filters and temperature (as OpenAI and vLLM report them).
 */
public final class Sampler {

    /** The chosen token, its logprob, and the topIds.length most likely tokens (most likely first). */
    public record Result(int token, float logprob, int[] topIds, float[] topLogprobs) {
    }

    private final SamplingParams params;
    private final int vocabSize;
    private final SplittableRandom rng;
    private final boolean penalize;
    /** The last penaltyLastN accepted tokens (ring), or null when the window is the whole context. */
    private final int[] window;
    private int windowPos;
    private int windowFill;
    private final Map<Integer, Integer> counts = new HashMap<>();
    /** Greedy without bias or penalties: the token is the argmax of the raw logits. */
    private final boolean plainGreedy;

    private static final int[] NO_IDS = new int[0];
    private static final float[] NO_LOGPROBS = new float[0];

    public Sampler(SamplingParams params, int vocabSize) {
        this(params, vocabSize, Integer.MAX_VALUE);
    }

    /** A window longer than the context behaves like the context, so it is never allocated bigger. */
    public Sampler(SamplingParams params, int vocabSize, int contextLength) {
        if (vocabSize <= 0) throw new IllegalArgumentException("vocabulary size must be positive");
        this.params = params;
        this.vocabSize = vocabSize;
        long seed = params.seed() == -1 ? ThreadLocalRandom.current().nextLong() : params.seed();
        this.rng = new SplittableRandom(seed);
        this.penalize = params.penaltyLastN() != 0
                && (params.repeatPenalty() != 1f || params.frequencyPenalty() != 0f || params.presencePenalty() != 0f);
        this.plainGreedy = params.greedy() && !penalize && params.logitBias().isEmpty();
        this.window = penalize && params.penaltyLastN() > 0 ? new int[Math.min(params.penaltyLastN(), Math.max(1, contextLength))] : null;
    }

    public SamplingParams params() {
        return params;
    }

    /** Records a token of the context (prompt or generated) for the penalties. */
    public void accept(int token) {
        if (!penalize) return;
        if (window != null) {
            if (windowFill == window.length) {
                int old = window[windowPos];
                counts.computeIfPresent(old, (k, c) -> c == 1 ? null : c - 1);
            } else {
                windowFill++;
            }
            window[windowPos] = token;
            windowPos = (windowPos + 1) % window.length;
        }
        counts.merge(token, 1, Integer::sum);
    }

    /** How many times token occurs in the penalty window (0 when penalties are off). */
    public int count(int token) {
        return counts.getOrDefault(token, 0);
    }

    /**
     * Picks a token from logits[offset .. offset + vocabSize). topLogprobs: -1 for none, else
     * the chosen token's logprob plus that many alternatives. Does not {@link #accept} the token.
     */
    public Result sample(float[] logits, int offset, int topLogprobs) {
        return sample(logits, offset, topLogprobs, null);
    }

    /**
     * As {@link #sample(float[], int, int)}, choosing only among the tokens set in allowed (bit t of
     * allowed[t / 64]; null: every token), as if the others had logit -infinity before anything
     * else. allowed must have at least one token.
     */
    public Result sample(float[] logits, int offset, int topLogprobs, long[] allowed) {
        if (plainGreedy) {
            // Nothing modifies the logits: scan them in place (no vocabulary-sized copy, one pass).
            int token = allowed == null ? argmaxChecked(logits, offset, vocabSize) : argmaxAllowed(logits, offset, vocabSize, allowed);
            if (topLogprobs < 0) return new Result(token, Float.NaN, NO_IDS, NO_LOGPROBS);
            return withLogprobs(logits, offset, token, topLogprobs, SCRATCH.get().ensure(vocabSize));
        }
        Scratch s = SCRATCH.get().ensure(vocabSize);
        float[] work = s.work;
        System.arraycopy(logits, offset, work, 0, vocabSize);
        for (int i = 0; i < vocabSize; i++) {
            if (Float.isNaN(work[i])) throw new IllegalStateException("the model produced NaN logits");
        }
        if (allowed != null) applyMask(work, allowed);
        applyBiasAndPenalties(work);
        int token;
        if (params.greedy()) token = allowed == null ? argmax(work, vocabSize) : argmaxAllowed(work, 0, vocabSize, allowed);
        else token = draw(s, allowed);
        if (topLogprobs < 0) return new Result(token, Float.NaN, NO_IDS, NO_LOGPROBS);
        return withLogprobs(logits, offset, token, topLogprobs, s);
    }

    /**
     * Whether drawing from the unconstrained logits and keeping the token when a constraint
     * allows it (drawing again under the mask otherwise) yields exactly the constrained
     * distribution: true for greedy, and for plain temperature sampling where P(t | allowed) =
     * p(t) + (1 - Z) p(t) / Z = p(t) / Z. Truncation (top-k/p, min-p) over the unmasked logits
     * would keep different candidates, so then the mask must come first.
     */
    public boolean drawThenCheckIsExact() {
        return params.greedy() || (params.topK() == 0 && params.topP() >= 1f && params.minP() <= 0f);
    }

    private void applyMask(float[] work, long[] allowed) {
        int n = vocabSize;
        for (int w = 0; w * 64 < n; w++) {
            long bits = w < allowed.length ? allowed[w] : 0L;
            if (bits == -1L) continue;
            int base = w * 64, end = Math.min(n, base + 64);
            if (bits == 0L) {
                Arrays.fill(work, base, end, Float.NEGATIVE_INFINITY);
                continue;
            }
            for (int i = base; i < end; i++) if ((bits & (1L << (i - base))) == 0) work[i] = Float.NEGATIVE_INFINITY;
        }
    }

    /** The first allowed index holding the largest allowed value of v[from .. from+n); throws on NaN among them. */
    static int argmaxAllowed(float[] v, int from, int n, long[] allowed) {
        float best = Float.NEGATIVE_INFINITY;
        int bestWord = -1;
        for (int w = 0; w * 64 < n && w < allowed.length; w++) {
            long bits = allowed[w];
            if (bits == 0L) continue;
            int base = w * 64, len = Math.min(64, n - base);
            float m;
            if (bits == -1L && len == 64) {
                int i = 0, bound = F.loopBound(64);
                m = Float.NEGATIVE_INFINITY;
                if (bound > 0) {
                    FloatVector acc = FloatVector.fromArray(F, v, from + base);
                    for (i = F.length(); i < bound; i += F.length()) acc = acc.max(FloatVector.fromArray(F, v, from + base + i));
                    m = acc.reduceLanes(VectorOperators.MAX);
                }
                for (; i < 64; i++) m = Math.max(m, v[from + base + i]);
            } else {
                m = Float.NEGATIVE_INFINITY;
                for (long x = bits; x != 0; x &= x - 1) {
                    int i = Long.numberOfTrailingZeros(x);
                    if (i < len) m = Math.max(m, v[from + base + i]);
                }
            }
            if (Float.isNaN(m)) throw new IllegalStateException("the model produced NaN logits");
            if (bestWord < 0 || m > best) {
                best = m;
                bestWord = w;
            }
        }
        if (bestWord < 0) throw new IllegalArgumentException("no token is allowed");
        int base = bestWord * 64;
        for (long x = allowed[bestWord]; x != 0; x &= x - 1) {
            int i = Long.numberOfTrailingZeros(x);
            if (base + i < n && v[from + base + i] == best) return base + i;
        }
        throw new AssertionError("the maximum is one of the allowed values");
    }

    /** Logit bias, then llama.cpp's penalties: repeat divides positive / multiplies negative logits, then subtract count*freq + present. */
    void applyBiasAndPenalties(float[] work) {
        for (Map.Entry<Integer, Float> e : params.logitBias().entrySet()) {
            int id = e.getKey();
            if (id >= 0 && id < vocabSize) work[id] += e.getValue();
        }
        if (!penalize) return;
        for (Map.Entry<Integer, Integer> e : counts.entrySet()) {
            int id = e.getKey(), count = e.getValue();
            if (id < 0 || id >= vocabSize) continue;
            float l = work[id];
            l = l <= 0 ? l * params.repeatPenalty() : l / params.repeatPenalty();
            work[id] = l - count * params.frequencyPenalty() - params.presencePenalty();
        }
    }

    private int draw(Scratch s, long[] allowed) {
        int n = distribution(s);
        // Every candidate at -infinity (e.g. banned by logit bias): fall back to the argmax, among the allowed ones.
        if (n == 0) return allowed == null ? argmax(s.work, vocabSize) : argmaxAllowed(s.work, 0, vocabSize, allowed);
        return pick(s.candId, s.prob, n, 1.0);
    }

    /** A draw from ids[i] with weights w[i] summing to sum. */
    private int pick(int[] ids, double[] w, int n, double sum) {
        double u = rng.nextDouble() * sum, acc = 0;
        for (int i = 0; i < n; i++) {
            acc += w[i];
            if (u < acc) return ids[i];
        }
        return ids[n - 1];
    }

    /**
     * The distribution draws come from, for the biased and penalized logits in s.work: candidates
     * s.candId[0..n) with probabilities s.prob (summing to 1) after top-k, top-p, min-p and temperature.
     * n is 0 when every token is at -infinity.
     */
    private int distribution(Scratch s) {
        int n = candidates(s);
        if (n == 0) return 0;
        float[] lg = s.candLogit;
        n = topP(lg, n);
        n = minP(lg, n);
        // Temperature last, as llama.cpp does: the filters above see temperature-1 probabilities.
        float inv = 1f / params.temperature();
        double max = lg[0] * (double) inv, sum = 0;
        double[] p = s.prob;
        for (int i = 0; i < n; i++) {
            p[i] = Math.exp(lg[i] * (double) inv - max);
            sum += p[i];
        }
        for (int i = 0; i < n; i++) p[i] /= sum;
        return n;
    }

    /** A guessed token and the distribution it was drawn from (ids with their probabilities); see {@link #sampleSpeculative}. */
    public record Draw(int token, int[] ids, float[] probs) {
        float prob(int id) {
            for (int i = 0; i < ids.length; i++) if (ids[i] == id) return probs[i];
            return 0f;
        }
    }

    /**
     * A draft model's guess from its logits row: the argmax when greedy, else a draw from this
     * sampler's distribution (bias, filters and temperature; a draft sampler keeps no penalty history),
     * returned with that distribution so the target can accept or reject it exactly.
     */
    public Draw draw(float[] logits, int offset) {
        Scratch s = SCRATCH.get().ensure(vocabSize);
        float[] work = s.work;
        System.arraycopy(logits, offset, work, 0, vocabSize);
        for (int i = 0; i < vocabSize; i++) {
            if (Float.isNaN(work[i])) throw new IllegalStateException("the draft model produced NaN logits");
        }
        applyBiasAndPenalties(work);
        int n = params.greedy() ? 0 : distribution(s);
        if (n == 0) {
            int t = argmax(work, vocabSize);
            return new Draw(t, new int[]{t}, new float[]{1f});
        }
        int t = pick(s.candId, s.prob, n, 1.0);
        float[] probs = new float[n];
        for (int i = 0; i < n; i++) probs[i] = (float) s.prob[i];
        return new Draw(t, Arrays.copyOf(s.candId, n), probs);
    }

    /**
     * Verifies a guessed token with the standard speculative sampling rule (Leviathan et al.; Chen et
     * al.): with p this sampler's distribution for the row and q the guess's, keep the guess x with
     * probability min(1, p(x) / q(x)), else draw from max(0, p - q) renormalised. The token returned is
     * then distributed exactly as a plain {@link #sample} would be. q null means the guess was certain
     * (prompt lookup: q(x) = 1, and a rejection draws from p without x). Greedy: the argmax, which
     * keeps the guess exactly when it is the argmax. The caller compares the token with the guess.
     */
    public Result sampleSpeculative(float[] logits, int offset, int topLogprobs, long[] allowed, int guess, Draw q) {
        if (params.greedy()) return sample(logits, offset, topLogprobs, allowed);
        Scratch s = SCRATCH.get().ensure(vocabSize);
        float[] work = s.work;
        System.arraycopy(logits, offset, work, 0, vocabSize);
        for (int i = 0; i < vocabSize; i++) {
            if (Float.isNaN(work[i])) throw new IllegalStateException("the model produced NaN logits");
        }
        if (allowed != null) applyMask(work, allowed);
        applyBiasAndPenalties(work);
        int n = distribution(s);
        int token;
        if (n == 0) {
            token = allowed == null ? argmax(work, vocabSize) : argmaxAllowed(work, 0, vocabSize, allowed);
        } else {
            double px = 0;
            for (int i = 0; i < n; i++) if (s.candId[i] == guess) px = s.prob[i];
            double qx = q == null ? 1.0 : q.prob(guess);
            if (qx > 0 && rng.nextDouble() * qx < px) {
                token = guess;
            } else {
                // The residual max(0, p - q), with q spread over a dense row (cleared again below).
                float[] dense = s.q;
                if (q == null) dense[guess] = 1f;
                else for (int i = 0; i < q.ids.length; i++) dense[q.ids[i]] = q.probs[i];
                double sum = 0;
                for (int i = 0; i < n; i++) {
                    s.prob[i] = Math.max(0.0, s.prob[i] - dense[s.candId[i]]);
                    sum += s.prob[i];
                }
                if (q == null) dense[guess] = 0f;
                else for (int id : q.ids) dense[id] = 0f;
                // An empty residual means p <= q everywhere, i.e. p == q, where the guess is always kept: rounding only.
                token = sum > 0 ? pick(s.candId, s.prob, n, sum) : guess;
            }
        }
        if (topLogprobs < 0) return new Result(token, Float.NaN, NO_IDS, NO_LOGPROBS);
        return withLogprobs(logits, offset, token, topLogprobs, s);
    }

    /** Fills the candidate arrays with the top-k tokens (all when k is 0) sorted by logit, descending; drops -inf. */
    private int candidates(Scratch s) {
        float[] work = s.work;
        int k = params.topK() > 0 ? Math.min(params.topK(), vocabSize) : vocabSize;
        long[] keys = s.keys;
        int n;
        if (k < vocabSize) {
            n = topKeys(work, vocabSize, k, keys);
        } else {
            for (int i = 0; i < vocabSize; i++) keys[i] = key(work[i], i);
            Arrays.sort(keys, 0, vocabSize);
            n = vocabSize;
        }
        int m = 0;
        for (int i = 0; i < n; i++) {
            int id = (int) keys[i];
            float l = work[id];
            if (l == Float.NEGATIVE_INFINITY) break;
            s.candId[m] = id;
            s.candLogit[m++] = l;
        }
        return m;
    }

    /**
     * A sort key: ascending order of keys = descending logit, ties broken by the lower token id
     * (so the order never depends on the sort algorithm); the low 32 bits are the id.
     */
    private static long key(float logit, int id) {
        int bits = Float.floatToIntBits(logit);
        // Map float order to signed int order, then flip so larger logits come first.
        int ordered = bits >= 0 ? bits : bits ^ 0x7FFFFFFF;
        return ((long) ~ordered << 32) | (id & 0xFFFFFFFFL);
    }

    /** The k smallest keys (largest logits), sorted, via a bounded max-heap. */
    private static int topKeys(float[] v, int n, int k, long[] out) {
        long[] heap = new long[k];
        int size = 0;
        for (int i = 0; i < n; i++) {
            long key = key(v[i], i);
            if (size < k) {
                heap[size] = key;
                siftUp(heap, size++);
            } else if (key < heap[0]) {
                heap[0] = key;
                siftDown(heap, k);
            }
        }
        Arrays.sort(heap, 0, size);
        System.arraycopy(heap, 0, out, 0, size);
        return size;
    }

    private static void siftUp(long[] h, int i) {
        while (i > 0) {
            int parent = (i - 1) / 2;
            if (h[parent] >= h[i]) return;
            long t = h[parent]; h[parent] = h[i]; h[i] = t;
            i = parent;
        }
    }

    private static void siftDown(long[] h, int n) {
        int i = 0;
        while (true) {
            int l = 2 * i + 1, r = l + 1, big = i;
            if (l < n && h[l] > h[big]) big = l;
            if (r < n && h[r] > h[big]) big = r;
            if (big == i) return;
            long t = h[big]; h[big] = h[i]; h[i] = t;
            i = big;
        }
    }

    /** Keeps the smallest prefix whose probability mass reaches top_p. */
    private int topP(float[] lg, int n) {
        float p = params.topP();
        if (p >= 1f) return n;
        double max = lg[0], sum = 0;
        for (int i = 0; i < n; i++) sum += Math.exp(lg[i] - max);
        double cum = 0;
        for (int i = 0; i < n; i++) {
            cum += Math.exp(lg[i] - max) / sum;
            if (cum >= p) return i + 1;
        }
        return n;
    }

    /** Keeps tokens with probability at least min_p times the most likely token's. */
    private int minP(float[] lg, int n) {
        float p = params.minP();
        if (p <= 0f) return n;
        float min = lg[0] + (float) Math.log(p);
        int i = 1;
        while (i < n && lg[i] >= min) i++;
        return i;
    }

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    /**
     * {@link #argmax} of v[from .. from+n) (the first index holding the maximum), throwing on NaN
     * like the general path. Vectorized: a max pass (NaN propagates through max, so one check at
     * the end covers every logit), then the first position equal to it.
     */
    private static int argmaxChecked(float[] v, int from, int n) {
        int i = 0, bound = F.loopBound(n);
        float max = Float.NEGATIVE_INFINITY;
        if (bound > 0) {
            FloatVector acc = FloatVector.fromArray(F, v, from);
            for (i = F.length(); i < bound; i += F.length()) acc = acc.max(FloatVector.fromArray(F, v, from + i));
            max = acc.reduceLanes(VectorOperators.MAX);
        }
        for (; i < n; i++) max = Math.max(max, v[from + i]);
        if (Float.isNaN(max)) throw new IllegalStateException("the model produced NaN logits");
        for (i = 0; i < bound; i += F.length()) {
            VectorMask<Float> hit = FloatVector.fromArray(F, v, from + i).eq(max);
            if (hit.anyTrue()) return i + hit.firstTrue();
        }
        for (; i < n; i++) if (v[from + i] == max) return i;
        throw new AssertionError("the maximum is one of the logits");
    }

    private static int argmax(float[] v, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    private Result withLogprobs(float[] logits, int offset, int token, int top, Scratch s) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocabSize; i++) max = Math.max(max, logits[offset + i]);
        double sum = 0;
        for (int i = 0; i < vocabSize; i++) sum += Math.exp(logits[offset + i] - max);
        double lse = max + Math.log(sum);
        int k = Math.min(top, vocabSize);
        int[] ids = new int[k];
        float[] lps = new float[k];
        if (k > 0) {
            System.arraycopy(logits, offset, s.work, 0, vocabSize);
            topKeys(s.work, vocabSize, k, s.keys);
            for (int i = 0; i < k; i++) {
                ids[i] = (int) s.keys[i];
                lps[i] = (float) (logits[offset + ids[i]] - lse);
            }
        }
        return new Result(token, (float) (logits[offset + token] - lse), ids, lps);
    }

    /** Vocabulary-sized work arrays, one set per thread, so requests do not each hold megabytes. */
    private static final class Scratch {
        float[] work = new float[0];
        float[] candLogit = new float[0];
        int[] candId = new int[0];
        long[] keys = new long[0];
        double[] prob = new double[0];
        /** Zero except while {@link #sampleSpeculative} spreads a guess's distribution over it. */
        float[] q = new float[0];

        Scratch ensure(int n) {
            if (work.length < n) {
                q = new float[n];
                work = new float[n];
                candLogit = new float[n];
                candId = new int[n];
                keys = new long[n];
                prob = new double[n];
            }
            return this;
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);
}
