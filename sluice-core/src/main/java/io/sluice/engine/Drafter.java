package io.sluice.engine;

import io.sluice.model.Model;

import java.util.List;

/**
 * Where speculative guesses come from. Before a step's forward pass the engine asks for up to
 * {@code want[i]} tokens that may follow each decoding sequence's last token, from the source the
 * {@link DraftPolicy} chose for it ({@link Sequence#draftSource}); the drafter writes them into the
 * sequence's draft (fewer, or none, when it has no guess). The target model verifies them in that
 * pass ({@link OutputProcessor#verify}).
 */
interface Drafter extends AutoCloseable {
    /** A source of guesses; its ordinal indexes a sequence's per-source counts. */
    enum Source {
        /** Prompt lookup ({@link NgramDrafter}): free, but only where the text repeats. */
        NGRAM("ngram"),
        /** A draft model ({@link DraftModelDrafter}): a guess anywhere, at the cost of its passes. */
        DRAFT("draft");

        /** The name on /metrics and in logs (the --speculate mode of the same source). */
        final String label;

        Source(String label) {
            this.label = label;
        }
    }

    /** The sources this drafter draws on, the cheaper first (a tie in the policy goes to it). */
    List<Source> sources();

    /** How many guesses src could offer s now, at most max (prompt lookup: as far as its match goes). */
    default int offered(Sequence s, Source src, int max) {
        return max;
    }

    void propose(List<Sequence> seqs, int[] want);

    /** Seconds one draft-model position costs a step for a batch of n drafting sequences (prompt lookup is free: 0). */
    default double secondsPerDraftStep(int n) {
        return 0;
    }

    /** The sequence left the engine (or was preempted): drop what is kept for it. */
    default void release(Sequence s) {
    }

    @Override
    default void close() {
    }

    /** The drafter the settings ask for: AUTO with a draft model runs both sources side by side. */
    static Drafter of(Speculation spec, Model target, EngineConfig config, int numBlocks) {
        if (!spec.usesDraftModel()) return new NgramDrafter();
        DraftModelDrafter model = new DraftModelDrafter(spec.draftModel(), target, config, numBlocks);
        return spec.mode() == Speculation.Mode.AUTO ? new AutoDrafter(new NgramDrafter(), model) : model;
    }
}
