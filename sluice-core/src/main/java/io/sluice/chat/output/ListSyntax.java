package io.sluice.chat.output;

import java.util.List;

/**
 * A marker then a JSON array of calls: Mistral's {@code [TOOL_CALLS][{"name": ..., "arguments": {...}}, ...]}
 * and Granite's {@code <|tool_call|>[...]}. Newer Mistral templates (Devstral, Small 3.2) write
 * {@code [TOOL_CALLS]name[CALL_ID]id[ARGS]{...}} per call instead (the id optional); both are read.
 */
final class ListSyntax implements ToolSyntax {
    static final String ARGS = "[ARGS]", CALL_ID = "[CALL_ID]";

    private final String marker;

    ListSyntax(String marker) {
        this.marker = marker;
    }

    @Override
    public int start(CharSequence t, int from, boolean atStart) {
        return ToolSyntax.indexOf(t, marker, from);
    }

    @Override
    public int safe(CharSequence t, int from, boolean atStart) {
        return t.length() - ToolSyntax.partialTail(t, from, marker);
    }

    @Override
    public Region scan(CharSequence t, int from, boolean done) {
        int i = JsonPrefix.skipWs(t, from + marker.length());
        if (i >= t.length()) return done ? Region.invalid(t.length()) : null;
        if (t.charAt(i) != '[') return nameArgs(t, from, i, done);
        int end = JsonPrefix.end(t, i);
        if (end == JsonPrefix.INCOMPLETE) return done ? Region.invalid(t.length()) : null;
        if (end == JsonPrefix.INVALID) return Region.invalid(done ? t.length() : next(t, i));
        return new Region(ToolSyntax.calls(ToolSyntax.parse(t, i, end)), null, end);
    }

    /** name[CALL_ID]id[ARGS]{...}: the name is everything up to [CALL_ID] or [ARGS]. */
    private Region nameArgs(CharSequence t, int from, int i, boolean done) {
        int args = ToolSyntax.indexOf(t, ARGS, i);
        if (args < 0) return done ? Region.invalid(t.length()) : null;
        int id = ToolSyntax.indexOf(t, CALL_ID, i);
        String name = t.subSequence(i, id >= 0 && id < args ? id : args).toString().strip();
        int j = args + ARGS.length();
        int end = JsonPrefix.end(t, j);
        if (end == JsonPrefix.INCOMPLETE) return done ? Region.invalid(t.length()) : null;
        if (end == JsonPrefix.INVALID || name.isEmpty()) return Region.invalid(done ? t.length() : next(t, j));
        var argsNode = ToolSyntax.parse(t, j, end);
        if (argsNode == null || !argsNode.isObject()) return Region.invalid(end);
        return new Region(List.of(new RawCall(name, argsNode.toString())), null, end);
    }

    /** Where invalid text ends: the next marker, or all of it (the caller waits for done otherwise). */
    private int next(CharSequence t, int from) {
        int m = ToolSyntax.indexOf(t, marker, from);
        return m >= 0 ? m : t.length();
    }
}
