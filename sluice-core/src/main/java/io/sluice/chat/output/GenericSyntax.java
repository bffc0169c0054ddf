package io.sluice.chat.output;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.List;

/**
 * For templates that know no tools (llama-server's generic format): the model is told, and held by a
 * grammar, to answer with one JSON object - {@code {"tool_calls": [{"name", "arguments"}...]}},
 * {@code {"tool_call": {...}}} or {@code {"response": "text"}} (the content).
 */
final class GenericSyntax implements ToolSyntax {
    @Override
    public int start(CharSequence t, int from, boolean atStart) {
        if (!atStart) return -1;
        int p = JsonPrefix.skipWs(t, from);
        return p < t.length() && t.charAt(p) == '{' ? p : -1;
    }

    @Override
    public int safe(CharSequence t, int from, boolean atStart) {
        return atStart && JsonPrefix.skipWs(t, from) == t.length() ? from : t.length();
    }

    @Override
    public Region scan(CharSequence t, int from, boolean done) {
        int end = JsonPrefix.end(t, from);
        if (end == JsonPrefix.INCOMPLETE) return done ? Region.invalid(t.length()) : null;
        if (end == JsonPrefix.INVALID) return done ? Region.invalid(t.length()) : null;
        JsonNode o = ToolSyntax.parse(t, from, end);
        if (o == null || !o.isObject()) return Region.invalid(end);
        if (o.has("tool_calls")) return new Region(ToolSyntax.calls(o.get("tool_calls")), null, end);
        if (o.has("tool_call")) {
            RawCall c = ToolSyntax.call(o.get("tool_call"));
            return new Region(c == null ? null : List.of(c), null, end);
        }
        if (o.size() == 1 && o.path("response").isTextual()) return new Region(null, o.get("response").asText(), end);
        return Region.invalid(end);
    }
}
