package io.sluice.chat.output;

import java.util.List;

/**
 * Hermes 2/3, Qwen2.5, QwQ and Qwen3: each call is {@code <tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>}.
 * A block whose JSON is complete but whose closing tag never comes (small models forget it) is still a call.
 */
final class HermesSyntax implements ToolSyntax {
    static final String OPEN = "<tool_call>", CLOSE = "</tool_call>";

    @Override
    public int start(CharSequence t, int from, boolean atStart) {
        return ToolSyntax.indexOf(t, OPEN, from);
    }

    @Override
    public int safe(CharSequence t, int from, boolean atStart) {
        return t.length() - ToolSyntax.partialTail(t, from, OPEN);
    }

    @Override
    public Region scan(CharSequence t, int from, boolean done) {
        int i = JsonPrefix.skipWs(t, from + OPEN.length());
        int end = i >= t.length() ? JsonPrefix.INCOMPLETE : JsonPrefix.end(t, i);
        if (end == JsonPrefix.INCOMPLETE) return done ? Region.invalid(t.length()) : null;
        if (end == JsonPrefix.INVALID) {
            int close = ToolSyntax.indexOf(t, CLOSE, i);
            if (close >= 0) return Region.invalid(close + CLOSE.length());
            return done ? Region.invalid(t.length()) : null;
        }
        RawCall call = ToolSyntax.call(ToolSyntax.parse(t, i, end));
        int j = JsonPrefix.skipWs(t, end);
        int regionEnd;
        if (ToolSyntax.startsWith(t, j, CLOSE)) regionEnd = j + CLOSE.length();
        else if (!done && (j == t.length() || ToolSyntax.isPrefixOf(t, j, CLOSE))) return null;
        else regionEnd = end;
        return call == null ? Region.invalid(regionEnd) : new Region(List.of(call), null, regionEnd);
    }
}
