package io.sluice.engine;

import io.sluice.grammar.GrammarMatcher;
import io.sluice.model.tokenizer.StreamingDecoder;
import io.sluice.model.tokenizer.Tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The output-processing room: from a sequence's logits row to its next token and what the client
 * sees. Per sequence it keeps a {@link State}: the {@link Sampler}, the grammar position (each
 * sequence of a batch has its own), the incremental detokenizer and the stop-string matcher. One
 * step: choose a token under the grammar's mask, accept it (sampler history, grammar), turn it into
 * text, and decide whether the sequence ends (end-of-generation token, stop string, grammar
 * complete, max tokens, context full).
 *
 * <p>Constrained sampling: when drawing first and checking is exact (greedy, or plain temperature:
 * {@link Sampler#drawThenCheckIsExact()}), the token is drawn from the raw row and kept if the
 * grammar allows it, so most steps never build a mask; otherwise, or when it is refused, the mask
 * of allowed tokens is computed and the draw is made under it.
 *
 * <p>Speculative decoding: with k guessed tokens the runner returns k + 1 rows for the sequence;
 * {@link #verify} takes one step per row in order, each choosing under the sampler and grammar state
 * the kept tokens before it left (greedy: the argmax; at temperature > 0 the speculative sampling
 * rule, {@link Sampler#sampleSpeculative}), keeps going while the choice equals the guess, and stops
 * at the first difference, whose choice is the step's last token; the engine then rolls the
 * sequence's KV back over the refused guesses. Guesses are first cut where the grammar would refuse
 * them ({@link #cutToGrammar}), so no pass is spent on a token that cannot be kept.
 */
final class OutputProcessor {
    private final Tokenizer tokenizer;
    private final int vocab;
    private final int contextLength;
    private final long[] mask;
    /** End-of-generation tokens, removed from masks of requests that ignore them (built on first use). */
    private long[] eog;

    OutputProcessor(Tokenizer tokenizer, int vocab, int contextLength) {
        this.tokenizer = tokenizer;
        this.vocab = vocab;
        this.contextLength = contextLength;
        this.mask = new long[(vocab + 63) >>> 6];
    }

    private long[] eog() {
        if (eog == null) {
            long[] e = new long[mask.length];
            for (int t = 0; t < Math.min(vocab, tokenizer.vocabSize()); t++) if (tokenizer.isEog(t)) e[t >>> 6] |= 1L << t;
            eog = e;
        }
        return eog;
    }

    /** One sequence's output state (engine thread only). */
    static final class State {
        final Sampler sampler;
        final GrammarMatcher grammar;
        final StreamingDecoder text;
        final StopMatcher stop;

        State(Sampler sampler, GrammarMatcher grammar, StreamingDecoder text, StopMatcher stop) {
            this.sampler = sampler;
            this.grammar = grammar;
            this.text = text;
            this.stop = stop;
        }
    }

    /** What one step produced: the token event, and the reason the sequence ends (null: it goes on). */
    record Step(GenerationEvent.Token event, FinishReason finish, String error) {
    }

    /** Sets up a new sequence: the sampler sees the prompt (for penalties), the grammar starts at its root. */
    State open(Sequence s) {
        GenerationRequest r = s.request;
        Sampler sampler = new Sampler(r.sampling(), vocab, contextLength);
        for (int i = 0; i < s.promptLength; i++) sampler.accept(s.tokens[i]);
        GrammarMatcher g = r.grammar() == null ? null : r.grammar().newMatcher();
        return new State(sampler, g, new StreamingDecoder(tokenizer), new StopMatcher(r.stop()));
    }

    /** What verifying a sequence's guesses produced: its steps in order (the last may end it), and how many guesses were kept. */
    record Verified(List<Step> steps, int kept) {
    }

    /** Verifies s's s.draftLen guesses against its rows from offset (k + 1 of them): see the class comment. */
    Verified verify(Sequence s, float[] logits, int offset) {
        int k = s.draftLen;
        List<Step> steps = new ArrayList<>(k + 1);
        int kept = 0;
        for (int i = 0; i <= k; i++) {
            Step st = i < k ? next(s, logits, offset + i * vocab, s.draft[i], s.draftDraws.length > i ? s.draftDraws[i] : null)
                    : next(s, logits, offset + i * vocab);
            steps.add(st);
            if (st.event() == null || st.finish() != null || i == k || st.event().id() != s.draft[i]) break;
            kept++;
        }
        return new Verified(steps, kept);
    }

    /** Cuts s's guesses before the first one its grammar (or ignore_eos) would refuse; the matcher itself does not move. */
    void cutToGrammar(Sequence s) {
        GrammarMatcher g = s.out.grammar;
        if (g == null) return;
        boolean noEnd = s.request.ignoreEos();
        GrammarMatcher probe = g.copy();
        for (int i = 0; i < s.draftLen; i++) {
            int t = s.draft[i];
            if ((noEnd && tokenizer.isEog(t)) || !probe.accept(t)) {
                s.draftLen = i;
                return;
            }
        }
    }

    /** The next token of s from its logits row at offset, appended to s, as an event and a verdict. */
    Step next(Sequence s, float[] logits, int offset) {
        return next(s, logits, offset, -1, null);
    }

    /** As {@link #next(Sequence, float[], int)}, verifying the guess (token id, and what it was drawn from; -1: no guess). */
    private Step next(Sequence s, float[] logits, int offset, int guess, Sampler.Draw draw) {
        GenerationRequest r = s.request;
        State st = s.out;
        Sampler.Result res = guess < 0 ? choose(s, logits, offset) : chooseSpeculative(s, logits, offset, guess, draw);
        if (res == null) {
            // The grammar allows nothing more: complete means done, otherwise no token can go on.
            if (st.grammar.canEnd()) return new Step(null, FinishReason.STOP, null);
            return new Step(null, FinishReason.ERROR, "no token of the vocabulary can continue the grammar here");
        }
        int tok = res.token();
        if (st.grammar != null && !st.grammar.accept(tok)) {
            return new Step(null, FinishReason.ERROR, "the grammar refused token " + tok + " it had allowed");
        }
        s.append(tok);
        st.sampler.accept(tok);

        FinishReason reason = null;
        String text;
        if (!r.ignoreEos() && tokenizer.isEog(tok)) {
            // The end-of-generation token itself contributes no text.
            text = st.stop.push(st.text.flush());
            reason = FinishReason.STOP;
        } else {
            text = st.stop.push(st.text.accept(tok));
            if (st.stop.stopped()) {
                reason = FinishReason.STOP;
            } else if (st.grammar != null && st.grammar.isTerminated()) {
                text += st.stop.push(st.text.flush());
                reason = FinishReason.STOP;
            } else if ((r.maxTokens() > 0 && s.generated >= r.maxTokens()) || s.length > contextLength) {
                text += st.stop.push(st.text.flush());
                reason = st.stop.stopped() ? FinishReason.STOP : FinishReason.LENGTH;
            }
        }
        if (reason != null) text += st.stop.flush();
        return new Step(new GenerationEvent.Token(tok, text, res.logprob(), topLogprobs(r, res)), reason, null);
    }

    /** The sampled token under s's grammar (null when the grammar allows no token at all). */
    Sampler.Result choose(Sequence s, float[] logits, int offset) {
        State st = s.out;
        int top = s.request.topLogprobs();
        GrammarMatcher g = st.grammar;
        if (g == null) return st.sampler.sample(logits, offset, top);
        if (st.sampler.drawThenCheckIsExact()) {
            Sampler.Result res = st.sampler.sample(logits, offset, top);
            if (allowed(s, res.token())) return res;
        }
        Arrays.fill(mask, 0L);
        g.fillMask(mask);
        boolean any = false;
        long[] noEnd = s.request.ignoreEos() ? eog() : null;
        for (int w = 0; w < mask.length; w++) {
            if (noEnd != null) mask[w] &= ~noEnd[w];
            any |= mask[w] != 0;
        }
        return any ? st.sampler.sample(logits, offset, top, mask) : null;
    }

    /** As {@link #choose}, verifying a guess: greedy is the same choice; at temperature > 0 the speculative rule under the grammar's mask. */
    private Sampler.Result chooseSpeculative(Sequence s, float[] logits, int offset, int guess, Sampler.Draw draw) {
        State st = s.out;
        if (st.sampler.params().greedy()) return choose(s, logits, offset);
        int top = s.request.topLogprobs();
        GrammarMatcher g = st.grammar;
        if (g == null) return st.sampler.sampleSpeculative(logits, offset, top, null, guess, draw);
        Arrays.fill(mask, 0L);
        g.fillMask(mask);
        boolean any = false;
        long[] noEnd = s.request.ignoreEos() ? eog() : null;
        for (int w = 0; w < mask.length; w++) {
            if (noEnd != null) mask[w] &= ~noEnd[w];
            any |= mask[w] != 0;
        }
        return any ? st.sampler.sampleSpeculative(logits, offset, top, mask, guess, draw) : null;
    }

    private boolean allowed(Sequence s, int token) {
        if (s.request.ignoreEos() && tokenizer.isEog(token)) return false;
        return s.out.grammar.allows(token);
    }

    private List<GenerationEvent.TopLogprob> topLogprobs(GenerationRequest r, Sampler.Result res) {
        if (r.topLogprobs() <= 0) return List.of();
        var list = new ArrayList<GenerationEvent.TopLogprob>(res.topIds().length);
        for (int i = 0; i < res.topIds().length; i++) {
            list.add(new GenerationEvent.TopLogprob(res.topIds()[i], pieceText(res.topIds()[i]), res.topLogprobs()[i]));
        }
        return List.copyOf(list);
    }

    private String pieceText(int id) {
        try {
            return new String(tokenizer.tokenBytes(id), StandardCharsets.UTF_8);
        } catch (RuntimeException e) {
            return "";
        }
    }
}
