package io.sluice.engine;

import io.sluice.gguf.GGUFFile;
import io.sluice.model.Batch;
import io.sluice.model.KvLayout;
import io.sluice.model.KvStore;
import io.sluice.model.Model;
import io.sluice.model.ModelConfig;
import io.sluice.model.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static io.sluice.engine.FakeEngines.assertNoBlockHeld;
import static io.sluice.engine.FakeEngines.config;
import static io.sluice.engine.FakeEngines.greedy;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Speculative decoding against {@link FakeModel}, whose greedy output is known exactly: guesses from
 * prompt lookup and from draft models (one always right, one often wrong) never change a token, and
 * the KV accounting survives them under chunking, preemption and cancellation.
 */
class SpeculativeDecodingTest {
    /** A {@link FakeModel} whose forward pass a subclass changes; everything else is the fake model's. */
    abstract static class Wrapped implements Model {
        final FakeModel inner;

        Wrapped(int ctx) {
            inner = new FakeModel(ctx);
        }

        @Override public ModelConfig config() { return inner.config(); }
        @Override public Tokenizer tokenizer() { return inner.tokenizer(); }
        @Override public GGUFFile file() { return null; }
        @Override public KvLayout kvLayout() { return inner.kvLayout(); }
        @Override public long activationBytes(int tokens) { return inner.activationBytes(tokens); }
        @Override public int activationWidth() { return inner.activationWidth(); }
        @Override public long weightBytes() { return inner.weightBytes(); }
        @Override public void close() { }
    }

    /** A draft that agrees with the target except where its (position-keyed) coin says otherwise: then its guess is another token. */
    static final class WrongSometimes extends Wrapped {
        final int wrongEvery;

        WrongSometimes(int ctx, int wrongEvery) {
            super(ctx);
            this.wrongEvery = wrongEvery;
        }

        @Override
        public void forward(Batch b, KvStore kv, float[] logits) {
            inner.forward(b, kv, logits);
            int row = 0;
            for (int t = 0; t < b.size; t++) {
                if (!b.wantLogits[t]) continue;
                if (Math.floorMod(b.positions[t] * 31 + b.tokens[t], wrongEvery) == 0) {
                    int off = row * FakeModel.VOCAB, best = off;
                    for (int v = off; v < off + FakeModel.VOCAB; v++) if (logits[v] > logits[best]) best = v;
                    logits[best] = -100f; // the target's choice loses: the guess is the runner-up
                }
                row++;
            }
        }
    }

    /**
     * A target that, from the PERIOD-th position on, repeats the sequence with period PERIOD (the
     * token it copies is read back through the KV cache, so a wrong block still shows): prompt
     * lookup guesses it right, except where the prompt's own n-grams mislead it.
     */
    static final class Repeating extends Wrapped {
        static final int PERIOD = 5;
        /** Every breakEvery-th position (0: none) the fake model's own choice instead: the repetition breaks. */
        final int breakEvery;

        Repeating(int ctx) {
            this(ctx, 0);
        }

        Repeating(int ctx, int breakEvery) {
            super(ctx);
            this.breakEvery = breakEvery;
        }

        @Override
        public void forward(Batch b, KvStore kv, float[] logits) {
            inner.forward(b, kv, logits);
            int bs = kv.blockSize(), row = 0;
            float[] read = new float[inner.kvLayout().layer(0).headDim()];
            for (int t = 0; t < b.size; t++) {
                if (!b.wantLogits[t]) continue;
                int from = b.positions[t] + 1 - PERIOD;
                if (from >= 0 && (breakEvery == 0 || (b.positions[t] + 1) % breakEvery != 0)) {
                    int[] table = b.table(b.seqOf[t], kv.groupOf(0));
                    kv.readKey(0, table[from / bs], from % bs, 0, read, 0);
                    logits[row * FakeModel.VOCAB + (int) read[0]] = 500f;
                }
                row++;
            }
        }

        static int[] expected(int[] prompt, int maxTokens) {
            int[] all = java.util.Arrays.copyOf(prompt, prompt.length + maxTokens);
            for (int j = prompt.length; j < all.length; j++) all[j] = all[j - PERIOD];
            return java.util.Arrays.copyOfRange(all, prompt.length, all.length);
        }
    }

    @Test
    void promptLookupGuessesARepeatingTextAndKeepsItExact() throws Exception {
        Random r = new Random(9);
        int ctx = 128;
        try (LlmEngine e = new LlmEngine(new Repeating(ctx), config(100, 32, 4, 64, ctx), Speculation.ngram(6))) {
            e.draftPolicy().stepTimes.assume(1, 0);
            Collector[] cs = new Collector[12];
            int[][] prompts = new int[12][];
            for (int i = 0; i < cs.length; i++) {
                prompts[i] = r.ints(Repeating.PERIOD + r.nextInt(20), 1, 64).toArray();
                cs[i] = new Collector();
                e.submit(greedy(prompts[i], 40, true), cs[i]);
            }
            for (int i = 0; i < cs.length; i++) {
                assertNotEquals(FinishReason.ERROR, cs[i].await().reason(), cs[i].finished.message());
                assertArrayEquals(Repeating.expected(prompts[i], 40), cs[i].idArray(), "request " + i);
            }
            EngineMetrics m = e.metrics();
            assertTrue(m.acceptedTokens() > 0.8 * m.draftedTokens() && m.draftedTokens() > 12 * 20, "guesses were mostly kept: " + m);
            assertTrue(m.steps() < 12 * 40 / 3, "steps kept several tokens each: " + m.steps());
        }
    }

    private static void thousandRequests(Speculation spec, Model draftKeeper) throws Exception {
        Random r = new Random(3);
        int ctx = 48;
        FakeModel model = new FakeModel(ctx);
        LlmEngine e = new LlmEngine(model, config(20, 16, 8, 2000, ctx), spec);
        // As if a pass cost the same for any token count (a memory-bound model): guessing always pays.
        e.draftPolicy().stepTimes.assume(1, 0);
        FakeEngines.Soak soak = FakeEngines.thousandRandomRequests(e, r, ctx);
        EngineMetrics m = e.metrics();
        assertTrue(soak.cancelled() > 0, "some requests were cancelled");
        assertTrue(m.preemptions() > 0, "the tiny pool forced preemptions");
        assertTrue(m.draftedTokens() > 0, "guesses were verified: " + m);
        assertTrue(m.acceptedTokens() <= m.draftedTokens(), "kept at most what was guessed: " + m);
        if (spec.mode() == Speculation.Mode.AUTO) assertTrue(m.ngramDraftedTokens() > 0 && m.draftModelDraftedTokens() > 0, "both sources guessed: " + m);
        e.close();
        List<KvCacheManager> pools = new ArrayList<>(List.of(e.blockManager()));
        if (e.drafter() instanceof DraftModelDrafter d) pools.add(d.blockManager());
        if (e.drafter() instanceof AutoDrafter a) pools.add(((DraftModelDrafter) a.model()).blockManager());
        for (KvCacheManager blocks : pools) assertNoBlockHeld(blocks);
    }

    @Test
    void promptLookupKeepsThousandRandomRequestsExactAndLeaksNoBlock() throws Exception {
        thousandRequests(Speculation.ngram(6), null);
    }

    @Test
    void anOftenWrongDraftModelKeepsThousandRandomRequestsExactAndLeaksNoBlock() throws Exception {
        WrongSometimes draft = new WrongSometimes(48, 3);
        thousandRequests(Speculation.draft(draft, 4), draft);
    }

    @Test
    void autoWithAnOftenWrongDraftKeepsThousandRandomRequestsExactAndLeaksNoBlock() throws Exception {
        WrongSometimes draft = new WrongSometimes(48, 3);
        thousandRequests(new Speculation(Speculation.Mode.AUTO, 4, 0, draft), draft);
    }

    @Test
    void aDraftModelThatIsAlwaysRightHasEveryGuessKept() throws Exception {
        Random r = new Random(5);
        int ctx = 256;
        FakeModel draft = new FakeModel(ctx);
        FakeModel target = new FakeModel(ctx);
        try (LlmEngine e = new LlmEngine(target, config(400, 64, 4, 16, ctx), Speculation.draft(draft, 5))) {
            e.draftPolicy().stepTimes.assume(1, 0);
            for (int i = 0; i < 4; i++) {
                int[] prompt = r.ints(1 + r.nextInt(40), 1, 64).toArray();
                Collector c = new Collector();
                GenerationHandle h = e.submit(greedy(prompt, 60, true), c);
                c.await();
                assertArrayEquals(FakeModel.expectedGreedy(prompt, 60, ctx, true), c.idArray(), "request " + i);
                RequestTiming t = h.timing();
                assertTrue(t.draftedTokens() > 30, "drafted " + t.draftedTokens());
                assertEquals(t.draftedTokens(), t.acceptedTokens(), "the draft is the target: every guess is kept");
            }
            assertTrue(e.metrics().steps() < 4 * 60 / 3, "a step kept several tokens: " + e.metrics().steps() + " steps");
        }
        draft.close();
    }

    /** A copy that reaches the present goes on with the loop it found, for the whole draft. */
    @Test
    void promptLookupFollowsALoopPastThePresent() {
        int[] out = new int[6];
        assertEquals(6, NgramDrafter.lookup(new int[]{9, 7, 7, 7, 7}, 5, 6, out));
        assertArrayEquals(new int[]{7, 7, 7, 7, 7, 7}, out);
        assertEquals(5, NgramDrafter.lookup(new int[]{4, 1, 2, 3, 1, 2, 3, 1, 2}, 9, 5, out));
        assertArrayEquals(new int[]{3, 1, 2, 3, 1}, Arrays.copyOf(out, 5));
        assertEquals(3, NgramDrafter.lookup(REPEATED, REPEATED.length, 3, out), "a match far back: what followed it");
        assertArrayEquals(new int[]{3, 4, 5}, Arrays.copyOf(out, 3));
        assertEquals(0, NgramDrafter.lookup(new int[]{1, 2, 3, 4}, 4, 5, out), "no earlier occurrence: no guess");
    }

    /** A prompt whose last bigram occurred 10 tokens earlier: prompt lookup offers 10 guesses. */
    private static final int[] REPEATED = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2};

    @Test
    void aCostlyPassGetsNoGuessesAndACheapOneGetsLongOnes() {
        Speculation spec = Speculation.ngram(8);
        DraftPolicy p = new DraftPolicy(spec, 1000, 512, new NgramDrafter());
        Sequence s = new Sequence(1, greedy(REPEATED, 0, false), ev -> { }, null);
        for (int i = 0; i < 20; i++) DraftPolicy.observe(s, Drafter.Source.NGRAM, 4, 4); // a sequence whose guesses are always kept
        p.stepTimes.assume(1, 0);
        assertEquals(8, p.lengths(List.of(s), 1, 100, 100)[0], "free rows: the longest draft");
        assertEquals(3, p.lengths(List.of(s), 1, 3, 100)[0], "capped by the token budget");
        p.stepTimes.assume(0, 1);
        assertEquals(0, p.lengths(List.of(s), 1, 100, 100)[0], "a guess costs as much as the decode itself: none pays");
        Sequence bad = new Sequence(2, greedy(REPEATED, 0, false), ev -> { }, null);
        for (int i = 0; i < 20; i++) DraftPolicy.observe(bad, Drafter.Source.NGRAM, 4, 0);
        p.stepTimes.assume(1, 1.0 / 16);
        int[] k = p.lengths(List.of(s, bad), 2, 100, 100);
        assertTrue(k[0] >= 4, "the well-guessing sequence drafts long: " + k[0]);
        assertEquals(0, k[1], "the badly-guessing one not at all");
        Sequence unmatched = new Sequence(3, greedy(new int[]{1, 2, 3}, 0, false), ev -> { }, null);
        for (int i = 0; i < 20; i++) DraftPolicy.observe(unmatched, Drafter.Source.NGRAM, 4, 4);
        assertEquals(0, p.lengths(List.of(unmatched), 1, 100, 100)[0], "no lookup match: nothing to guess, no blocks held for it");
    }

    /** Both sources behind one drafter; the draft model's cost per position is fixed, and it offers every guess. */
    private static final class TwoSources implements Drafter {
        final NgramDrafter lookup = new NgramDrafter();
        double modelCost;

        @Override public List<Source> sources() { return List.of(Source.NGRAM, Source.DRAFT); }
        @Override public int offered(Sequence s, Source src, int max) { return src == Source.NGRAM ? lookup.offered(s, src, max) : max; }
        @Override public void propose(List<Sequence> seqs, int[] want) { }
        @Override public double secondsPerDraftStep(int n) { return modelCost; }
    }

    private static Sequence withHistory(int[] prompt, int lookupKept, int modelKept) {
        Sequence s = new Sequence(1, greedy(prompt, 0, false), ev -> { }, null);
        for (int i = 0; i < 20; i++) {
            DraftPolicy.observe(s, Drafter.Source.NGRAM, 4, lookupKept);
            DraftPolicy.observe(s, Drafter.Source.DRAFT, 4, modelKept);
        }
        return s;
    }

    @Test
    void bothSourcesTheBetterGoodputWinsPerSequence() {
        TwoSources d = new TwoSources();
        DraftPolicy p = new DraftPolicy(new Speculation(Speculation.Mode.AUTO, 8, 0, null), 1000, 512, d);
        p.stepTimes.assume(1, 1.0 / 64);
        d.modelCost = 0.05;
        Sequence goodLookup = withHistory(REPEATED, 4, 4);
        int[] k = p.lengths(List.of(goodLookup), 1, 100, 100);
        assertEquals(Drafter.Source.NGRAM, goodLookup.draftSource, "a match as good as the model, and free: prompt lookup");
        assertTrue(k[0] >= 8, "as long as the match and the cap allow: " + k[0]);

        Sequence noMatch = withHistory(new int[]{1, 2, 3}, 4, 4);
        int kept = p.lengths(List.of(noMatch), 1, 100, 100)[0];
        assertEquals(Drafter.Source.DRAFT, noMatch.draftSource, "no match: the draft model");
        assertTrue(kept >= 4, "which pays at this cost: " + kept);

        Sequence collapsed = withHistory(REPEATED, 0, 4);
        k = p.lengths(List.of(collapsed), 1, 100, 100);
        assertEquals(Drafter.Source.DRAFT, collapsed.draftSource, "a match whose guesses are refused loses to a model that is kept");
        assertTrue(k[0] > 0);

        Sequence fresh = new Sequence(4, greedy(REPEATED, 0, false), ev -> { }, null);
        for (int i = 0; i < 20; i++) DraftPolicy.observe(fresh, Drafter.Source.DRAFT, 4, 4);
        p.lengths(List.of(fresh), 1, 100, 100);
        assertEquals(Drafter.Source.NGRAM, fresh.draftSource, "a source never tried is tried, however good the other");

        Sequence badModel = withHistory(new int[]{1, 2, 3}, 4, 0);
        int refused = p.lengths(List.of(badModel), 1, 100, 100)[0];
        assertTrue(refused <= 1 && refused < kept, "a model whose guesses are refused gets at most one guess: " + refused);

        // The draft model costs as much as a step: only the free lookup still guesses.
        d.modelCost = 1;
        Sequence both = withHistory(REPEATED, 3, 4);
        k = p.lengths(List.of(both, withHistory(new int[]{1, 2, 3}, 4, 4)), 2, 100, 100);
        assertEquals(Drafter.Source.NGRAM, both.draftSource, "the model's passes cost more than its better guesses bring");
        assertTrue(k[0] > 0, "the lookup guesses: " + k[0]);
        assertEquals(0, k[1], "the draft model's sequence does not");
    }

    /** Greedy ids of every prompt through an engine with these settings (all submitted at once), and its metrics at the end. */
    private record Outcome(List<int[]> ids, EngineMetrics metrics) {
    }

    private static Outcome generate(Model target, Speculation spec, int[][] prompts, int maxTokens) throws Exception {
        try (LlmEngine e = new LlmEngine(target, config(200, 32, 4, 64, 128), spec)) {
            if (e.draftPolicy() != null) e.draftPolicy().stepTimes.assume(1, 0);
            Collector[] cs = new Collector[prompts.length];
            for (int i = 0; i < prompts.length; i++) {
                cs[i] = new Collector();
                e.submit(greedy(prompts[i], maxTokens, true), cs[i]);
            }
            List<int[]> ids = new ArrayList<>();
            for (Collector c : cs) {
                assertNotEquals(FinishReason.ERROR, c.await().reason(), c.finished.message());
                ids.add(c.idArray());
            }
            EngineMetrics m = e.metrics();
            if (e.drafter() instanceof AutoDrafter auto) {
                e.close();
                KvCacheManager draftPool = ((DraftModelDrafter) auto.model()).blockManager();
                draftPool.checkConsistency();
                assertEquals(0, draftPool.usedBlocks(), "the draft model's pool holds nothing once every sequence left");
            }
            return new Outcome(ids, m);
        }
    }

    private static int[][] prompts(long seed, int n) {
        Random r = new Random(seed);
        int[][] p = new int[n][];
        for (int i = 0; i < n; i++) p[i] = r.ints(Repeating.PERIOD + r.nextInt(20), 1, 64).toArray();
        return p;
    }

    @Test
    void autoGuessesByPromptLookupWhereTheTextRepeatsAndByTheDraftModelWhereItHasNoMatch() throws Exception {
        int[][] prompts = prompts(11, 8);
        Repeating target = new Repeating(128);
        Outcome auto = generate(target, new Speculation(Speculation.Mode.AUTO, 6, 0, new FakeModel(128)), prompts, 40);
        for (int i = 0; i < prompts.length; i++) assertArrayEquals(Repeating.expected(prompts[i], 40), auto.ids().get(i), "request " + i);
        EngineMetrics m = auto.metrics();
        // The draft (the fake model, not repeating) guesses the first steps, before the text repeats, and is refused.
        assertTrue(m.draftModelDraftedTokens() > 0 && m.draftModelAcceptedTokens() < m.draftModelDraftedTokens() / 2, "draft model: " + m);
        assertTrue(m.ngramDraftedTokens() > 4 * m.draftModelDraftedTokens(), "prompt lookup guesses the repetition: " + m);
        assertTrue(m.ngramAcceptedTokens() > 0.8 * m.ngramDraftedTokens(), "and is kept: " + m);
        assertEquals(m.ngramDraftedTokens() + m.draftModelDraftedTokens(), m.draftedTokens());
    }

    @Test
    void autoTurnsToTheDraftModelWhenPromptLookupIsRefused() throws Exception {
        // Prompts that repeat themselves, so the first lookups match; but the target breaks the repetition at every other
        // position, so they are refused. The draft model is the target itself.
        int[][] prompts = prompts(12, 8);
        for (int i = 0; i < prompts.length; i++) {
            int[] unit = java.util.Arrays.copyOf(prompts[i], Repeating.PERIOD);
            prompts[i] = java.util.stream.IntStream.range(0, 3 * Repeating.PERIOD).map(j -> unit[j % Repeating.PERIOD]).toArray();
        }
        Outcome plain = generate(new Repeating(128, 2), Speculation.OFF, prompts, 60);
        Outcome auto = generate(new Repeating(128, 2), new Speculation(Speculation.Mode.AUTO, 6, 0, new Repeating(128, 2)), prompts, 60);
        for (int i = 0; i < prompts.length; i++) assertArrayEquals(plain.ids().get(i), auto.ids().get(i), "request " + i);
        EngineMetrics m = auto.metrics();
        assertEquals(m.draftModelDraftedTokens(), m.draftModelAcceptedTokens(), "the draft model is the target: every guess kept");
        assertTrue(m.ngramDraftedTokens() > 0 && m.ngramAcceptedTokens() < m.ngramDraftedTokens(), "prompt lookup was tried, and refused: " + m);
        assertTrue(m.draftModelDraftedTokens() > 3 * m.ngramDraftedTokens(), "then the draft model guesses: " + m);
    }

    @Test
    void measuredTimesForgetColdPassesAndAssumeTheKernelsPromiseWhereUnmeasured() {
        DraftPolicy.StepTimes t = new DraftPolicy.StepTimes(64);
        t.observe(5, 500_000_000L); // a cold first prefill
        t.observe(1, 10_000_000L);
        assertEquals(0.010 * (1 + 1 / 16.0), t.seconds(2), 1e-9, "between 1 and the cold 5: the kernels' promise, not the cold figure");
        for (int i = 0; i < 300; i++) t.observe(1, 10_000_000L);
        assertEquals(0.010 * (1 + 4 / 16.0), t.seconds(5), 1e-9, "the cold figure is forgotten once stale");
        DraftPolicy.StepTimes cold = new DraftPolicy.StepTimes(64);
        cold.observe(1, 900_000_000L); // the first decode step, compiling; every later step guesses 8
        for (int i = 0; i < 20; i++) cold.observe(9, 50_000_000L);
        assertEquals(0.050, cold.seconds(1), 1e-9, "one token never costs more than nine measured since");
        assertEquals(0.050, cold.seconds(2), 1e-9);
        for (int i = 0; i < 5; i++) t.observe(16, 40_000_000L);
        assertEquals(0.040 * (1 + 1 / 16.0), t.seconds(17), 1e-9, "beyond 16 rows each token costs 1/16 of a 16-row pass");
    }
}
