package io.sluice.chat.output;

import java.util.List;

/**
 * Splits a chat model's generated text, as it streams in, into content, reasoning and tool calls in
 * the model family's format. Text that might still become a marker is held back until it is decided;
 * a call is reported once it is complete and valid. Malformed calls (unterminated, invalid JSON, an
 * unknown function) come back as content, never as an exception. One per generation; not thread-safe.
 */
public interface OutputParser {
    /** Adds generated text; returns what it decides. */
    List<OutputDelta> push(String text);

    /** The generation ended: returns the rest (anything undecided becomes content or reasoning). */
    List<OutputDelta> finish();
}
