package io.sluice.chat.output;

import java.util.List;

/**
 * Functionary v3.1 (Llama 3.1 based): each call is {@code <function=NAME>{...}</function>}, the
 * arguments a JSON object; the python tool's code comes raw after {@code <|python_tag|>} and runs to
 * the end of the answer (read as {@code {"code": ...}}).
 */
final class FunctionaryV31Syntax implements ToolSyntax {
    static final String OPEN = "<function=", CLOSE = "</function>", PYTHON_TAG = "<|python_tag|>";
    static final String PYTHON = "python";

    @Override
    public int start(CharSequence t, int from, boolean atStart) {
        int f = ToolSyntax.indexOf(t, OPEN, from), p = ToolSyntax.indexOf(t, PYTHON_TAG, from);
        return f < 0 ? p : p < 0 ? f : Math.min(f, p);
    }

    @Override
    public int safe(CharSequence t, int from, boolean atStart) {
        return t.length() - Math.max(ToolSyntax.partialTail(t, from, OPEN), ToolSyntax.partialTail(t, from, PYTHON_TAG));
    }

    @Override
    public Region scan(CharSequence t, int from, boolean done) {
        if (ToolSyntax.startsWith(t, from, PYTHON_TAG)) {
            if (!done) return null; // the code has no end marker but the end of the answer
            String code = t.subSequence(from + PYTHON_TAG.length(), t.length()).toString().strip();
            if (code.isEmpty()) return Region.invalid(t.length());
            return new Region(List.of(new RawCall(PYTHON, JSON.createObjectNode().put("code", code).toString())), null, t.length());
        }
        int i = from + OPEN.length();
        int gt = ToolSyntax.nameEnd(t, i, '>');
        if (gt == NEED_MORE) return done ? Region.invalid(t.length()) : null;
        if (gt == BAD) return invalid(t, i, done);
        String name = t.subSequence(i, gt).toString();
        int j = JsonPrefix.skipWs(t, gt + 1);
        int end = j >= t.length() ? JsonPrefix.INCOMPLETE : JsonPrefix.end(t, j);
        if (end == JsonPrefix.INCOMPLETE) return done ? Region.invalid(t.length()) : null;
        if (end == JsonPrefix.INVALID) return invalid(t, j, done);
        var args = ToolSyntax.parse(t, j, end);
        int k = JsonPrefix.skipWs(t, end);
        int regionEnd;
        if (ToolSyntax.startsWith(t, k, CLOSE)) regionEnd = k + CLOSE.length();
        else if (!done && (k == t.length() || ToolSyntax.isPrefixOf(t, k, CLOSE))) return null;
        else regionEnd = end; // a complete call whose closing tag was forgotten
        if (args == null || !args.isObject()) return Region.invalid(regionEnd);
        return new Region(List.of(new RawCall(name, args.toString())), null, regionEnd);
    }

    /** Malformed: content up to its closing tag, or to the end once the answer is done. */
    private static Region invalid(CharSequence t, int from, boolean done) {
        int close = ToolSyntax.indexOf(t, CLOSE, from);
        if (close >= 0) return Region.invalid(close + CLOSE.length());
        return done ? Region.invalid(t.length()) : null;
    }
}
