package io.sluice.engine;

import java.util.List;

/**
 * Where speculative guesses come from. Before a step's forward pass the engine asks for up to
 * {@code want[i]} tokens that may follow each decoding sequence's last token; the drafter writes them
 * into the sequence's draft (fewer, or none, when it has no guess). The target model verifies them in
 * that pass ({@link OutputProcessor#verify}).
 */
interface Drafter extends AutoCloseable {
    void propose(List<Sequence> seqs, int[] want);

    /** Seconds one drafted position costs a step for a batch of n drafting sequences (the policy's cost of drafting; 0: free). */
    default double secondsPerDraftStep(int n) {
        return 0;
    }

    /** The sequence left the engine (or was preempted): drop what is kept for it. */
    default void release(Sequence s) {
    }

    @Override
    default void close() {
    }

    /** The drafter the settings ask for. */
    static Drafter of(Speculation spec, io.sluice.model.Model target, EngineConfig config, int numBlocks) {
        return spec.usesDraftModel() ? new DraftModelDrafter(spec.draftModel(), target, config, numBlocks) : new NgramDrafter();
    }
}
