package io.sluice.engine;

import java.util.List;

/** What a running request reports, in order: zero or more Tokens, then exactly one Finished. */
public sealed interface GenerationEvent {

    /** One generated token; text is the newly completed UTF-8 text (may be empty mid-character or while a stop string may be forming). */
    record Token(int id, String text, float logprob, List<TopLogprob> topLogprobs) implements GenerationEvent {
    }

    /** The last event of every request. message is null unless reason is ERROR. */
    record Finished(FinishReason reason, Usage usage, String message) implements GenerationEvent {
    }

    record TopLogprob(int id, String text, float logprob) {
    }
}
