package io.sluice.chat.output;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;

/**
 * Command R7B: calls are a JSON list after {@code <|START_ACTION|>}, each
 * {@code {"tool_call_id": "0", "tool_name": ..., "parameters": {...}}}, closed by {@code <|END_ACTION|>};
 * the answer proper sits between {@code <|START_RESPONSE|>} and {@code <|END_RESPONSE|>}, markers
 * that are dropped from the content. (The plan before the calls is reasoning, {@link CommandR7bFormat}.)
 */
final class CommandR7bSyntax implements ToolSyntax {
    static final String ACTION = "<|START_ACTION|>", END_ACTION = "<|END_ACTION|>";
    static final String RESPONSE = "<|START_RESPONSE|>", END_RESPONSE = "<|END_RESPONSE|>";
    private static final String[] MARKERS = {ACTION, RESPONSE, END_RESPONSE};

    @Override
    public int start(CharSequence t, int from, boolean atStart) {
        int first = -1;
        for (String m : MARKERS) {
            int i = ToolSyntax.indexOf(t, m, from);
            if (i >= 0 && (first < 0 || i < first)) first = i;
        }
        return first;
    }

    @Override
    public int safe(CharSequence t, int from, boolean atStart) {
        int hold = 0;
        for (String m : MARKERS) hold = Math.max(hold, ToolSyntax.partialTail(t, from, m));
        return t.length() - hold;
    }

    @Override
    public Region scan(CharSequence t, int from, boolean done) {
        for (String m : new String[]{RESPONSE, END_RESPONSE}) {
            if (ToolSyntax.startsWith(t, from, m)) return new Region(null, "", from + m.length());
        }
        int i = JsonPrefix.skipWs(t, from + ACTION.length());
        int end = i >= t.length() ? JsonPrefix.INCOMPLETE : JsonPrefix.end(t, i);
        if (end == JsonPrefix.INCOMPLETE) return done ? Region.invalid(t.length()) : null;
        if (end == JsonPrefix.INVALID) {
            int close = ToolSyntax.indexOf(t, END_ACTION, i);
            if (close >= 0) return Region.invalid(close + END_ACTION.length());
            return done ? Region.invalid(t.length()) : null;
        }
        List<RawCall> calls = calls(ToolSyntax.parse(t, i, end));
        int j = JsonPrefix.skipWs(t, end);
        int regionEnd;
        if (ToolSyntax.startsWith(t, j, END_ACTION)) regionEnd = j + END_ACTION.length();
        else if (!done && (j == t.length() || ToolSyntax.isPrefixOf(t, j, END_ACTION))) return null;
        else regionEnd = end; // a complete list whose end marker was forgotten
        return calls == null ? Region.invalid(regionEnd) : new Region(calls, null, regionEnd);
    }

    /** The calls of an action list; null when it is not a non-empty list of such objects. */
    private static List<RawCall> calls(JsonNode list) {
        if (list == null || !list.isArray() || list.isEmpty()) return null;
        List<RawCall> out = new ArrayList<>();
        for (JsonNode a : list) {
            if (!a.isObject()) return null;
            ObjectNode call = JSON.createObjectNode();
            call.set("name", a.get("tool_name"));
            call.set("arguments", a.get("parameters"));
            RawCall c = ToolSyntax.call(call);
            if (c == null) return null;
            out.add(c);
        }
        return out;
    }
}
