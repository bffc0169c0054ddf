package io.sluice.engine;

import io.sluice.model.Model;

/**
 * Speculative decoding settings of an engine. A decoding sequence gets up to {@code draftMax} guessed
 * tokens a step, which the target model verifies in the same forward pass as everything else (k
 * guesses: k + 1 logits rows); the accepted ones cost one step together. Where the guesses come from:
 * {@link Mode#NGRAM} copies them from earlier in the sequence (prompt lookup), {@link Mode#DRAFT} runs
 * a small draft model of the same vocabulary, {@link Mode#AUTO} uses both, choosing per sequence. How
 * many a sequence gets each step is the scheduler's call ({@link DraftPolicy}): from its measured
 * acceptance rate and the batch, so that a full batch drafts nothing. Guesses shorter than {@code draftMin} are not verified.
 *
 * @param draftModel the draft model for DRAFT (and AUTO); null otherwise. The engine does not close it.
 */
public record Speculation(Mode mode, int draftMax, int draftMin, Model draftModel) {

    public enum Mode {
        /** No speculation. */
        OFF,
        /** Prompt lookup: the tokens that followed the latest earlier occurrence of the sequence's last n-gram. */
        NGRAM,
        /** A draft model proposes greedily (or samples, at temperature > 0). */
        DRAFT,
        /**
         * Prompt lookup and, when one is given, the draft model side by side: each sequence takes,
         * each step, the source its acceptance so far says guesses better per second (see {@link DraftPolicy}).
         */
        AUTO
    }

    /** The longest draft a sequence may get in one step. */
    public static final int MAX_DRAFT = 32;

    public static final Speculation OFF = new Speculation(Mode.OFF, 0, 0, null);

    public Speculation {
        if (mode == null) throw new IllegalArgumentException("--speculate must be off, ngram, draft or auto");
        if (mode != Mode.OFF) {
            if (draftMax < 1 || draftMax > MAX_DRAFT) throw new IllegalArgumentException("--draft-max must be in 1.." + MAX_DRAFT + " (got " + draftMax + ")");
            if (draftMin < 0 || draftMin > draftMax) throw new IllegalArgumentException("--draft-min must be in 0..--draft-max (got " + draftMin + ")");
        }
        if (mode == Mode.DRAFT && draftModel == null) throw new IllegalArgumentException("--speculate draft needs a draft model (-md/--model-draft FILE)");
        if (mode == Mode.NGRAM && draftModel != null) throw new IllegalArgumentException("--speculate ngram takes no draft model (-md is for draft or auto)");
    }

    /** Prompt lookup with llama.cpp's default draft length. */
    public static Speculation ngram(int draftMax) {
        return new Speculation(Mode.NGRAM, draftMax, 0, null);
    }

    public static Speculation draft(Model draftModel, int draftMax) {
        return new Speculation(Mode.DRAFT, draftMax, 0, draftModel);
    }

    public boolean enabled() {
        return mode != Mode.OFF;
    }

    /** Whether a draft model runs (DRAFT, or AUTO with one): its weights, KV pool and work buffers are in the memory plan. */
    public boolean usesDraftModel() {
        return mode == Mode.DRAFT || (mode == Mode.AUTO && draftModel != null);
    }
}
