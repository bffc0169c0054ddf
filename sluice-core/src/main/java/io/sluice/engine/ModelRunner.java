package io.sluice.engine;

import io.sluice.model.Batch;
import io.sluice.model.KvStore;
import io.sluice.model.Model;

import java.util.List;

/**
 * The model-runner room: turns the scheduler's plan for one step into one {@link Batch} (every
 * scheduled position of every sequence, with its block table) and runs one {@link Model#forward}.
 * It knows nothing of sampling or text; the {@link OutputProcessor} reads the logits rows.
 *
 * <p>Logits are computed for the last position of a sequence whose computed tokens then reach its
 * end (a decode, or the final prefill chunk); {@link #rowOf} tells which row belongs to which work
 * item. A decoding sequence's guessed tokens (speculative decoding) go in as further positions that
 * all want logits: k guesses, k + 1 consecutive rows from {@link #rowOf}, which the
 * {@link OutputProcessor} verifies in order.
 */
final class ModelRunner {
    private final Model model;
    private final KvStore kv;
    private final Batch batch;
    private final float[] logits;
    private final int vocab;
    /** Per work item of the last step: its first logits row, or -1. */
    private int[] rowOf = new int[0];
    private long promptTokensComputed;

    /** logitRows: the most logits rows a step may ask for (one per work item, plus one per guess). */
    ModelRunner(Model model, KvStore kv, EngineConfig config, int vocab, int logitRows) {
        this.model = model;
        this.kv = kv;
        this.vocab = vocab;
        this.batch = new Batch(config.maxBatchedTokens(), config.maxSeqs());
        this.logits = new float[logitRows * vocab];
    }

    /**
     * Builds the batch for work and runs the forward pass; a failing pass throws (the engine ends
     * that step's sequences). Afterwards {@link #logits()} and {@link #rowOf(int)} describe the output.
     */
    void execute(List<Scheduler.Work> work) {
        batch.clear();
        if (rowOf.length < work.size()) rowOf = new int[Math.max(work.size(), 2 * rowOf.length)];
        long now = System.nanoTime();
        long promptComputed = 0;
        int rows = 0;
        for (int k = 0; k < work.size(); k++) {
            Scheduler.Work w = work.get(k);
            Sequence s = w.seq();
            if (s.firstScheduledNanos == 0) s.firstScheduledNanos = now;
            int idx = batch.addSequence(s.table.arrays());
            boolean sampled = false;
            for (int i = 0; i < w.tokens(); i++) {
                int pos = s.computed + i;
                boolean last = pos == s.length - 1;
                batch.add(s.tokens[pos], pos, idx, last);
                sampled |= last;
                if (pos < s.promptLength) promptComputed++;
            }
            rowOf[k] = sampled ? rows++ : -1;
            int end = s.computed + w.tokens();
            for (int i = 0; i < s.draftLen; i++) {
                batch.add(s.draft[i], end + i, idx, true);
                rows++;
            }
        }
        promptTokensComputed = promptComputed;
        model.forward(batch, kv, logits);
    }

    /** The logits of the last step: row r is logits[r * vocab .. (r + 1) * vocab). */
    float[] logits() {
        return logits;
    }

    /** The logits row of work item k of the last step, or -1 when it only filled the KV cache. */
    int rowOf(int k) {
        return rowOf[k];
    }

    int vocab() {
        return vocab;
    }

    /** Prompt positions the last step computed (for the prompt-throughput metric). */
    long promptTokensComputed() {
        return promptTokensComputed;
    }
}
