package io.sluice.engine;

import io.sluice.model.Batch;
import io.sluice.model.KvStore;
import io.sluice.model.Model;
import io.sluice.model.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Guesses from a small draft model of the target's vocabulary. The draft keeps its own paged KV
 * cache (its own {@link KvStore} and {@link KvCacheManager}, prefix sharing included) with a block
 * table per sequence and the tokens it has seen. Each step it first catches up with the tokens the
 * target kept since (after a refusal its KV is cut back to the last token both agree on; after the
 * first admission it prefills the prompt), then runs one batched pass per guessed position over
 * every drafting sequence: greedy guesses are its argmax, at temperature > 0 draws from its
 * distribution under the request's sampling settings, which verification needs to stay exact.
 * When its pool is full a sequence simply gets no guesses.
 */
final class DraftModelDrafter implements Drafter {
    private final Model model;
    private final KvStore kv;
    private final KvCacheManager blocks;
    private final Batch batch;
    private final float[] logits;
    private final int vocab;
    private final int capacity;
    private final int maxSeqs;
    /** Seconds per batched draft pass by its sequence count. */
    private final DraftPolicy.StepTimes passTimes;

    /** One sequence's draft-side state. */
    private static final class State {
        final BlockTable table = new BlockTable();
        /** Tokens whose K/V the draft holds, positions 0..computed-1. */
        int[] seen = new int[16];
        int computed;
        Sampler sampler;
    }

    DraftModelDrafter(Model draft, Model target, EngineConfig config, int numBlocks) {
        checkVocabulary(draft, target);
        this.model = draft;
        this.vocab = target.config().vocabSize() > 0 ? target.config().vocabSize() : target.tokenizer().vocabSize();
        this.capacity = config.maxBatchedTokens();
        this.maxSeqs = config.maxSeqs();
        // As many positions as the target's pool: every sequence the target holds can be drafted for.
        this.kv = new KvStore(draft.kvLayout(), numBlocks, config.kvBlockSize(), config.kvType());
        this.blocks = new KvCacheManager(numBlocks, config.kvBlockSize(), draft.kvLayout().windows());
        this.batch = new Batch(capacity, maxSeqs);
        this.logits = new float[Math.min(maxSeqs, capacity) * vocab];
        this.passTimes = new DraftPolicy.StepTimes(maxSeqs);
    }

    /** llama.cpp's rule, stricter: the same token list (same size, same pieces) and the same special tokens. */
    static void checkVocabulary(Model draft, Model target) {
        String name = draft.file() != null ? draft.file().path().toString() : "the draft model";
        Tokenizer d = draft.tokenizer(), t = target.tokenizer();
        if (draft.config().vocabSize() != target.config().vocabSize() || d.vocabSize() != t.vocabSize()) {
            throw new EngineException(EngineException.Kind.INVALID_REQUEST, name + ": its vocabulary has " + draft.config().vocabSize()
                    + " tokens but the target's has " + target.config().vocabSize() + "; a draft model must share the target's vocabulary");
        }
        if (d.bos() != t.bos() || d.eos() != t.eos()) {
            throw new EngineException(EngineException.Kind.INVALID_REQUEST, name + ": its BOS/EOS tokens (" + d.bos() + "/" + d.eos()
                    + ") differ from the target's (" + t.bos() + "/" + t.eos() + ")");
        }
        for (int id = 0; id < t.vocabSize(); id++) {
            if (!d.tokenText(id).equals(t.tokenText(id))) {
                throw new EngineException(EngineException.Kind.INVALID_REQUEST, name + ": token " + id + " is '" + d.tokenText(id)
                        + "' but the target's is '" + t.tokenText(id) + "'; a draft model must share the target's vocabulary");
            }
        }
    }

    @Override
    public List<Source> sources() {
        return List.of(Source.DRAFT);
    }

    @Override
    public double secondsPerDraftStep(int n) {
        // Unmeasured: free, so the first steps draft and measure it.
        return passTimes.measured() ? passTimes.seconds(n) : 0;
    }

    @Override
    public void propose(List<Sequence> seqs, int[] want) {
        List<Sequence> active = new ArrayList<>();
        List<Integer> wants = new ArrayList<>();
        for (int i = 0; i < seqs.size(); i++) {
            Sequence s = seqs.get(i);
            s.draftLen = 0;
            // Separately: prompt lookup (auto) may have grown only the tokens.
            if (s.draft.length < want[i]) s.draft = new int[want[i]];
            if (s.draftDraws.length < want[i]) s.draftDraws = new Sampler.Draw[want[i]];
            if (want[i] > 0 && prepare(s, want[i])) {
                active.add(s);
                wants.add(want[i]);
            }
        }
        if (active.isEmpty()) return;
        catchUp(active);
        // One pass per further guess, over the sequences that want that many.
        for (int j = 1; ; j++) {
            batch.clear();
            List<Sequence> in = new ArrayList<>();
            for (int i = 0; i < active.size(); i++) {
                Sequence s = active.get(i);
                if (wants.get(i) <= j || s.draftLen < j) continue;
                State st = state(s);
                int pos = s.length - 1 + j;
                batch.add(s.draft[j - 1], pos, batch.addSequence(st.table.arrays()), true);
                see(st, pos, s.draft[j - 1]);
                in.add(s);
            }
            if (in.isEmpty()) break;
            long t0 = System.nanoTime();
            model.forward(batch, kv, logits);
            passTimes.observe(in.size(), System.nanoTime() - t0);
            for (int r = 0; r < in.size(); r++) guess(in.get(r), r);
        }
        for (Sequence s : active) {
            State st = state(s);
            blocks.commit(st.table, s.tokens, Math.min(st.computed, s.length));
        }
    }

    /** Cuts the draft's KV back to what agrees with the sequence and makes room for the guesses; false when the pool has none. */
    private boolean prepare(Sequence s, int want) {
        State st = state(s);
        int agree = 0, limit = Math.min(st.computed, s.length - 1);
        while (agree < limit && st.seen[agree] == s.tokens[agree]) agree++;
        // Committed blocks hold kept tokens only, which never change.
        agree = Math.max(agree, st.table.committed() * blocks.blockSize());
        if (st.table.size() == 0) {
            agree = blocks.acquireCachedPrefix(st.table, s.tokens, s.length);
            ensureSeen(st, agree);
            System.arraycopy(s.tokens, 0, st.seen, 0, agree);
        }
        st.computed = agree;
        blocks.truncate(st.table, agree);
        // Positions up to length - 1 + (want - 1): the last guess is never fed back.
        if (!blocks.grow(st.table, s.length + want - 1)) {
            release(s);
            return false;
        }
        return true;
    }

    /** Feeds every active sequence's unseen tokens, in passes of at most `capacity` tokens, and takes each one's first guess from its last row. */
    private void catchUp(List<Sequence> active) {
        List<Sequence> pending = new ArrayList<>(active);
        while (!pending.isEmpty()) {
            batch.clear();
            List<Sequence> rows = new ArrayList<>();
            List<Sequence> next = new ArrayList<>();
            for (Sequence s : pending) {
                State st = state(s);
                int room = capacity - batch.size;
                if (room <= 0 || batch.numSeqs == maxSeqs) {
                    next.add(s);
                    continue;
                }
                int from = st.computed, n = Math.min(s.length - from, room);
                int idx = batch.addSequence(st.table.arrays());
                for (int i = 0; i < n; i++) {
                    int pos = from + i;
                    boolean last = pos == s.length - 1;
                    batch.add(s.tokens[pos], pos, idx, last);
                    see(st, pos, s.tokens[pos]);
                }
                if (st.computed == s.length) rows.add(s);
                else next.add(s);
            }
            if (batch.size == 0) throw new IllegalStateException("draft catch-up made no progress: " + pending);
            model.forward(batch, kv, logits);
            for (int r = 0; r < rows.size(); r++) guess(rows.get(r), r);
            pending = next;
        }
    }

    /** The sequence's next guess from logits row r. */
    private void guess(Sequence s, int r) {
        State st = state(s);
        if (st.sampler == null) {
            SamplingParams p = s.request.sampling();
            // The request's settings without penalties (the draft keeps no history) and a seed of its own.
            st.sampler = new Sampler(new SamplingParams(p.temperature(), p.topK(), p.topP(), p.minP(), 1f, 0f, 0f, 0,
                    p.seed() == -1 ? -1 : p.seed() ^ 0x5DEECE66DL, p.logitBias()), vocab);
        }
        Sampler.Draw d = st.sampler.draw(logits, r * vocab);
        s.draft[s.draftLen] = d.token();
        s.draftDraws[s.draftLen] = st.sampler.params().greedy() ? null : d;
        s.draftLen++;
    }

    private void see(State st, int pos, int token) {
        ensureSeen(st, pos + 1);
        st.seen[pos] = token;
        st.computed = pos + 1;
    }

    private static void ensureSeen(State st, int n) {
        if (st.seen.length < n) st.seen = Arrays.copyOf(st.seen, Math.max(n, 2 * st.seen.length));
    }

    private static State state(Sequence s) {
        if (s.drafterState == null) s.drafterState = new State();
        return (State) s.drafterState;
    }

    @Override
    public void release(Sequence s) {
        if (s.drafterState instanceof State st) {
            blocks.free(st.table);
            st.computed = 0;
        }
    }

    @Override
    public void close() {
        kv.close();
    }

    /** Test hook: the draft pool's accounting. */
    KvCacheManager blockManager() {
        return blocks;
    }
}
