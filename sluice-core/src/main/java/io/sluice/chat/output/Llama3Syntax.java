package io.sluice.chat.output;

import java.util.ArrayList;
import java.util.List;

/**
 * Llama 3.1-3.3: a JSON object {@code {"name": ..., "parameters": {...}}} as the whole answer (the
 * templates ask for exactly that), optionally after {@code <|python_tag|>}, several separated by
 * {@code ;}. Python code after the tag (the built-in tools) is content. An answer that merely starts
 * with JSON but is no call of an offered function is content too.
 */
final class Llama3Syntax implements ToolSyntax {
    static final String PYTHON_TAG = "<|python_tag|>";

    @Override
    public int start(CharSequence t, int from, boolean atStart) {
        int tag = ToolSyntax.indexOf(t, PYTHON_TAG, from);
        if (atStart) {
            int p = JsonPrefix.skipWs(t, from);
            if (p < t.length() && t.charAt(p) == '{' && (tag < 0 || p < tag)) return p;
        }
        return tag;
    }

    @Override
    public int safe(CharSequence t, int from, boolean atStart) {
        if (atStart && JsonPrefix.skipWs(t, from) == t.length()) return from; // a call may still begin
        return t.length() - ToolSyntax.partialTail(t, from, PYTHON_TAG);
    }

    @Override
    public Region scan(CharSequence t, int from, boolean done) {
        int i = ToolSyntax.startsWith(t, from, PYTHON_TAG) ? from + PYTHON_TAG.length() : from;
        List<RawCall> calls = new ArrayList<>();
        while (true) {
            i = JsonPrefix.skipWs(t, i);
            if (i >= t.length()) {
                if (!done) return null;
                return calls.isEmpty() ? Region.invalid(t.length()) : new Region(calls, null, i);
            }
            int end = JsonPrefix.end(t, i);
            if (end == JsonPrefix.INCOMPLETE) return done ? Region.invalid(t.length()) : null;
            // Not JSON (python code for the built-in tools, or prose): content, decided at the end.
            if (end == JsonPrefix.INVALID) return done ? Region.invalid(t.length()) : null;
            RawCall c = ToolSyntax.call(ToolSyntax.parse(t, i, end));
            if (c == null) return Region.invalid(done ? t.length() : end);
            calls.add(c);
            int j = JsonPrefix.skipWs(t, end);
            if (j < t.length() && t.charAt(j) == ';') {
                i = j + 1;
                continue;
            }
            if (j >= t.length() && !done) return null; // a ';' and another call may follow
            return new Region(calls, null, end);
        }
    }

}
