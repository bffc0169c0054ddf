package io.sluice.chat.output;

import java.util.List;

/**
 * Functionary v3.2: the answer is a sequence of messages to recipients, {@code >>>NAME\n} then the
 * message. The generation prompt ends with {@code >>>}, so the first recipient comes without it.
 * {@code all} is the user (plain content, its header dropped); any other name is a call whose
 * message is the JSON arguments; the python tool's message may be raw code ({@code {"code": ...}}).
 * Text that does not start with a recipient line is content.
 */
final class FunctionaryV32Syntax implements ToolSyntax {
    static final String SEP = ">>>", ALL = "all";

    @Override
    public int start(CharSequence t, int from, boolean atStart) {
        if (atStart) return from < t.length() ? from : -1; // the first recipient, without >>>
        return ToolSyntax.indexOf(t, SEP, from);
    }

    @Override
    public int safe(CharSequence t, int from, boolean atStart) {
        return atStart ? from : t.length() - ToolSyntax.partialTail(t, from, SEP);
    }

    @Override
    public Region scan(CharSequence t, int from, boolean done) {
        int i = ToolSyntax.startsWith(t, from, SEP) ? from + SEP.length() : from;
        int nl = ToolSyntax.nameEnd(t, i, '\n');
        if (nl == NEED_MORE) return done ? Region.invalid(t.length()) : null;
        if (nl == BAD) return Region.invalid(Math.max(i, from + 1)); // no recipient line: content
        String name = t.subSequence(i, nl).toString();
        if (name.equals(ALL)) return new Region(null, "", nl + 1);
        int p = JsonPrefix.skipWs(t, nl + 1);
        if (p >= t.length()) return done ? Region.invalid(t.length()) : null;
        if (t.charAt(p) != '{') {
            int next = ToolSyntax.indexOf(t, SEP, nl + 1);
            if (next < 0 && !done) return null;
            int end = next < 0 ? t.length() : next;
            if (!name.equals(FunctionaryV31Syntax.PYTHON)) return Region.invalid(end);
            String code = t.subSequence(nl + 1, end).toString().strip();
            return new Region(List.of(new RawCall(name, JSON.createObjectNode().put("code", code).toString())), null, end);
        }
        int end = JsonPrefix.end(t, p);
        if (end == JsonPrefix.INCOMPLETE) return done ? Region.invalid(t.length()) : null;
        if (end == JsonPrefix.INVALID) {
            int next = ToolSyntax.indexOf(t, SEP, p);
            if (next >= 0) return Region.invalid(next);
            return done ? Region.invalid(t.length()) : null;
        }
        var args = ToolSyntax.parse(t, p, end);
        if (args == null || !args.isObject()) return Region.invalid(end);
        return new Region(List.of(new RawCall(name, args.toString())), null, end);
    }
}
