package io.sluice.chat.output;

import java.util.ArrayList;
import java.util.List;

/** A whole answer assembled from its deltas: content, reasoning and tool calls. Not thread-safe. */
public final class ChatOutput {
    private final StringBuilder content = new StringBuilder();
    private final StringBuilder reasoning = new StringBuilder();
    private final List<OutputDelta.Call> calls = new ArrayList<>();

    public void add(OutputDelta d) {
        switch (d) {
            case OutputDelta.Content c -> content.append(c.text());
            case OutputDelta.Reasoning r -> reasoning.append(r.text());
            case OutputDelta.Call c -> calls.add(c);
        }
    }

    public void addAll(List<OutputDelta> ds) {
        for (OutputDelta d : ds) add(d);
    }

    /** The content; null when the answer is only tool calls (OpenAI's message.content then is null). */
    public String content() {
        if (!calls.isEmpty() && content.toString().isBlank()) return null;
        return content.toString();
    }

    /** The reasoning, or null when there was none. */
    public String reasoning() {
        return reasoning.isEmpty() ? null : reasoning.toString();
    }

    public List<OutputDelta.Call> calls() {
        return List.copyOf(calls);
    }
}
