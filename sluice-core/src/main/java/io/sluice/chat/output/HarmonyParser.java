package io.sluice.chat.output;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * gpt-oss's harmony format: a sequence of messages, each a header then {@code <|message|>} and a body
 * ended by {@code <|end|>}, {@code <|call|>}, {@code <|return|>} or the next {@code <|start|>}. The header
 * names the channel ({@code <|channel|>analysis} is reasoning, {@code final} the answer) and, for a tool
 * call, the recipient ({@code to=functions.NAME}, before or after the channel). The generation prompt
 * ends with {@code <|start|>assistant}, so the first header comes without it. Output that is not
 * harmony at all is content.
 */
final class HarmonyParser implements OutputParser {
    static final String START = "<|start|>", CHANNEL = "<|channel|>", MESSAGE = "<|message|>";
    private static final String[] ENDS = {"<|end|>", "<|call|>", "<|return|>", START};
    private static final String RECIPIENT = "to=functions.";

    private enum Mode { HEADER, BODY, RAW }

    private final Set<String> names;
    private final boolean reasoning;
    private final IdSource ids;
    private final StringBuilder text = new StringBuilder();
    private int pos;
    private Mode mode = Mode.HEADER;
    private String channel, recipient;
    private int calls;
    private boolean first = true;

    /**
     * @param names     the functions the request offers; empty for no tool calls
     * @param reasoning report the analysis channel as reasoning (else it is dropped from the content, as
     *                  OpenAI never shows it)
     */
    HarmonyParser(Set<String> names, boolean reasoning, IdSource ids) {
        this.names = names;
        this.reasoning = reasoning;
        this.ids = ids;
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
            switch (mode) {
                case RAW -> {
                    if (pos < text.length()) out.add(new OutputDelta.Content(text.substring(pos)));
                    pos = text.length();
                    return out;
                }
                case HEADER -> {
                    int p = pos;
                    if (ToolSyntax.startsWith(text, p, START)) p += START.length();
                    else if (!first && !done && ToolSyntax.isPrefixOf(text, p, START)) return out;
                    int msg = ToolSyntax.indexOf(text, MESSAGE, p);
                    if (msg < 0) {
                        // A header is short; text that ends or runs on without <|message|> is not harmony.
                        if (done || (first && !looksLikeHeader(p)) || text.length() - p > 256) {
                            mode = Mode.RAW;
                            continue;
                        }
                        return out;
                    }
                    String header = text.substring(p, msg);
                    if (!header.contains(CHANNEL) && !header.contains("to=")) {
                        mode = Mode.RAW;
                        continue;
                    }
                    int ch = header.indexOf(CHANNEL);
                    channel = ch < 0 ? "commentary" : word(header, ch + CHANNEL.length());
                    int to = header.indexOf(RECIPIENT);
                    recipient = to < 0 ? null : word(header, to + RECIPIENT.length());
                    pos = msg + MESSAGE.length();
                    first = false;
                    mode = Mode.BODY;
                }
                case BODY -> {
                    int end = -1, endLen = 0;
                    for (String e : ENDS) {
                        int i = ToolSyntax.indexOf(text, e, pos);
                        if (i >= 0 && (end < 0 || i < end)) {
                            end = i;
                            endLen = e.equals(START) ? 0 : e.length();
                        }
                    }
                    boolean closed = end >= 0 || done;
                    int bodyEnd = end >= 0 ? end : text.length();
                    if (recipient != null) {
                        if (!closed) return out; // a call is reported whole
                        call(out, text.substring(pos, bodyEnd));
                    } else {
                        int safe = bodyEnd;
                        if (!closed) for (String e : ENDS) safe = Math.min(safe, text.length() - ToolSyntax.partialTail(text, pos, e));
                        String s = text.substring(pos, safe);
                        if (!s.isEmpty()) {
                            if (channel.equals("analysis")) {
                                if (reasoning) out.add(new OutputDelta.Reasoning(s));
                            } else {
                                out.add(new OutputDelta.Content(s));
                            }
                        }
                        pos = safe;
                        if (!closed) return out;
                    }
                    pos = bodyEnd + endLen;
                    mode = Mode.HEADER;
                    if (done && pos >= text.length()) return out;
                }
            }
        }
    }

    /** Text from p could be the start of a header (a channel, a recipient or a role). */
    private boolean looksLikeHeader(int p) {
        String rest = text.substring(p, Math.min(text.length(), p + 32));
        return rest.startsWith(CHANNEL) || CHANNEL.startsWith(rest) || rest.startsWith(" to=") || " to=".startsWith(rest)
                || rest.startsWith("to=") || rest.startsWith("assistant");
    }

    private void call(List<OutputDelta> out, String body) {
        JsonNode args = ToolSyntax.parse(body, 0, body.length());
        if (args != null && args.isObject() && names.contains(recipient)) {
            out.add(new OutputDelta.Call(calls++, ids.next(), recipient, args.toString()));
        } else if (!body.isEmpty()) {
            out.add(new OutputDelta.Content(body));
        }
    }

    /** The name at i: up to whitespace or the next special token. */
    private static String word(String s, int i) {
        int j = i;
        while (j < s.length() && !Character.isWhitespace(s.charAt(j)) && s.charAt(j) != '<') j++;
        return s.substring(i, j);
    }
}
