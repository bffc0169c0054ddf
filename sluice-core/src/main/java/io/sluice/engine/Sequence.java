package io.sluice.engine;

import java.util.Arrays;
import java.util.function.Consumer;

/**
 * One request inside the engine: its tokens (prompt, then generated), how many of them have
 * their K/V in the cache, its blocks, and its sampling/text state. Everything but the cancel flag
 * belongs to the engine thread.
 */
final class Sequence implements GenerationHandle {
    final long id;
    final GenerationRequest request;
    final Consumer<GenerationEvent> listener;
    final int promptLength;
    final BlockTable table = new BlockTable();
    private final LlmEngine engine;

    int[] tokens;
    int length;
    /** Positions 0..computed-1 have their K/V in this sequence's blocks. */
    int computed;
    int generated;
    /** Prompt tokens served by the prefix cache at first admission (Usage.cachedPromptTokens). */
    int cachedPromptTokens = -1;
    /** Admission order: the most recently admitted sequence is preempted first. */
    long admittedAt;
    boolean running;
    boolean finished;
    volatile boolean done;
    volatile boolean cancelRequested;

    /** This step's guessed tokens after the last one (speculative decoding), draft[0..draftLen). */
    int[] draft = new int[0];
    int draftLen;
    /** What each guess was drawn from (a draft model sampling at temperature > 0); null entries: certain guesses. */
    Sampler.Draw[] draftDraws = new Sampler.Draw[0];
    /** Where this step's guesses come from (the draft policy's choice). */
    Drafter.Source draftSource;
    /** Per source (by ordinal): guessed and kept tokens so far (metrics). */
    final int[] drafted = new int[Drafter.Source.values().length], accepted = new int[Drafter.Source.values().length];
    /** Per source: recent acceptance as decayed counts of kept and refused guesses (the draft policy's estimate). */
    final double[] keptRecently = new double[drafted.length], refusedRecently = new double[drafted.length];
    /** The draft model's state for this sequence (see {@link DraftModelDrafter}); null without one. */
    Object drafterState;

    /** Sampler, grammar position, detokenizer and stop matcher (see {@link OutputProcessor}); null until the engine takes the request. */
    OutputProcessor.State out;

    final long arrivalNanos = System.nanoTime();
    long firstScheduledNanos;
    long firstTokenNanos;
    long lastTokenNanos;
    double[] gaps = new double[0];
    int gapCount;
    volatile RequestTiming timing;

    Sequence(long id, GenerationRequest request, Consumer<GenerationEvent> listener, LlmEngine engine) {
        this.id = id;
        this.request = request;
        this.listener = listener;
        this.engine = engine;
        this.promptLength = request.promptTokens().length;
        this.tokens = Arrays.copyOf(request.promptTokens(), promptLength + 16);
        this.length = promptLength;
    }

    /** Tokens still to run through the model (1 for a decoding sequence). */
    int pending() {
        return length - computed;
    }

    void append(int token) {
        if (length == tokens.length) tokens = Arrays.copyOf(tokens, length * 2);
        tokens[length++] = token;
        generated++;
        long now = System.nanoTime();
        if (firstTokenNanos == 0) {
            firstTokenNanos = now;
        } else {
            if (gapCount == gaps.length) gaps = Arrays.copyOf(gaps, Math.max(16, gapCount * 2));
            gaps[gapCount++] = (now - lastTokenNanos) / 1e9;
        }
        lastTokenNanos = now;
    }

    Usage usage() {
        return new Usage(promptLength, generated, Math.max(0, cachedPromptTokens));
    }

    @Override
    public long id() {
        return id;
    }

    @Override
    public void cancel() {
        if (done || cancelRequested) return;
        cancelRequested = true;
        engine.wake(this);
    }

    @Override
    public boolean isDone() {
        return done;
    }

    @Override
    public RequestTiming timing() {
        return timing;
    }

    @Override
    public String toString() {
        return "seq " + id + " (" + computed + "/" + length + " computed, " + table.size() + " blocks)";
    }
}
