package io.sluice.chat.output;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The parser for formats that mark reasoning and tool calls inside plain text: an optional
 * {@code <think>...</think>} at the start (or already open when the prompt ended with {@code <think>}),
 * then content with tool-call regions in the family's {@link ToolSyntax}. Reasoning and content
 * stream as they come; a call region is reported when it is complete.
 */
final class MarkerParser implements OutputParser {
    static final String THINK_OPEN = "<think>", THINK_CLOSE = "</think>";

    private enum Mode { CONTENT, REASONING, CALL }

    private final ToolSyntax tools;
    private final Set<String> names;
    private final boolean reasoning;
    private final String thinkOpen, thinkClose;
    private final IdSource ids;
    private final StringBuilder text = new StringBuilder();
    private int pos;
    private Mode mode;
    /** Only whitespace has been decided so far (a reasoning block or a bare-JSON call may still open). */
    private boolean atStart = true;
    /** Whitespace right after a reasoning block or a call is dropped. */
    private boolean trimNext;
    private int calls;

    /**
     * @param tools            the family's call syntax, or null to find no calls
     * @param names            the functions the request offers (a call to any other is content)
     * @param reasoning        split {@code <think>} blocks into reasoning
     * @param startInReasoning the prompt ended inside an open {@code <think>}
     */
    MarkerParser(ToolSyntax tools, Set<String> names, boolean reasoning, boolean startInReasoning, IdSource ids) {
        this(tools, names, reasoning, startInReasoning, ids, THINK_OPEN, THINK_CLOSE);
    }

    /** With the family's own reasoning markers (Command R7B's {@code <|START_THINKING|>...<|END_THINKING|>}). */
    MarkerParser(ToolSyntax tools, Set<String> names, boolean reasoning, boolean startInReasoning, IdSource ids, String thinkOpen, String thinkClose) {
        this.thinkOpen = thinkOpen;
        this.thinkClose = thinkClose;
        this.tools = tools;
        this.names = names;
        this.reasoning = reasoning;
        this.ids = ids;
        this.mode = reasoning && startInReasoning ? Mode.REASONING : Mode.CONTENT;
    }

    @Override
    public List<OutputDelta> push(String piece) {
        text.append(piece);
        return run(false);
    }

    @Override
    public List<OutputDelta> finish() {
        return run(true);
    }

    private List<OutputDelta> run(boolean done) {
        List<OutputDelta> out = new ArrayList<>();
        while (true) {
            if (trimNext) {
                int p = JsonPrefix.skipWs(text, pos);
                if (p == text.length() && !done) return out;
                pos = p;
                trimNext = false;
            }
            switch (mode) {
                case REASONING -> {
                    int close = ToolSyntax.indexOf(text, thinkClose, pos);
                    if (close < 0) {
                        int safe = done ? text.length() : text.length() - ToolSyntax.partialTail(text, pos, thinkClose);
                        emit(out, new OutputDelta.Reasoning(text.substring(pos, safe)));
                        pos = safe;
                        return out;
                    }
                    emit(out, new OutputDelta.Reasoning(text.substring(pos, close)));
                    pos = close + thinkClose.length();
                    mode = Mode.CONTENT;
                    trimNext = true;
                }
                case CONTENT -> {
                    if (atStart && reasoning) {
                        int p = JsonPrefix.skipWs(text, pos);
                        if (ToolSyntax.startsWith(text, p, thinkOpen)) {
                            pos = p + thinkOpen.length();
                            mode = Mode.REASONING;
                            trimNext = true;
                            continue;
                        }
                        if (!done && (p == text.length() || ToolSyntax.isPrefixOf(text, p, thinkOpen))) return out;
                    }
                    int start = tools == null ? -1 : tools.start(text, pos, atStart);
                    if (start >= 0) {
                        content(out, pos, start);
                        pos = start;
                        mode = Mode.CALL;
                        continue;
                    }
                    int safe = done || tools == null ? text.length() : tools.safe(text, pos, atStart);
                    content(out, pos, safe);
                    pos = safe;
                    return out;
                }
                case CALL -> {
                    ToolSyntax.Region r = tools.scan(text, pos, done);
                    if (r == null) return out;
                    List<ToolSyntax.RawCall> found = known(r.calls());
                    if (found != null) {
                        for (ToolSyntax.RawCall c : found) out.add(new OutputDelta.Call(calls++, ids.next(), c.name(), c.arguments()));
                        trimNext = true;
                        atStart = false;
                    } else if (r.content() != null) {
                        emit(out, new OutputDelta.Content(r.content()));
                        atStart = false;
                    } else {
                        content(out, pos, r.end());
                    }
                    pos = r.end();
                    mode = Mode.CONTENT;
                    if (done && pos >= text.length()) return out;
                }
            }
        }
    }

    /** The calls when every one names an offered function, else null (the region is content). */
    private List<ToolSyntax.RawCall> known(List<ToolSyntax.RawCall> found) {
        if (found == null || found.isEmpty()) return null;
        for (ToolSyntax.RawCall c : found) if (!names.contains(c.name())) return null;
        return found;
    }

    private void content(List<OutputDelta> out, int from, int to) {
        if (to <= from) return;
        String s = text.substring(from, to);
        if (!s.isBlank()) atStart = false;
        emit(out, new OutputDelta.Content(s));
    }

    /** Adds a text delta unless it is empty. */
    private static void emit(List<OutputDelta> out, OutputDelta d) {
        boolean empty = switch (d) {
            case OutputDelta.Content c -> c.text().isEmpty();
            case OutputDelta.Reasoning r -> r.text().isEmpty();
            case OutputDelta.Call c -> false;
        };
        if (!empty) out.add(d);
    }
}
