package io.sluice.chat.output;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.util.ArrayList;
import java.util.List;

/**
 * How one model family writes tool calls inside its text (Hermes' {@code <tool_call>} blocks,
 * Mistral's {@code [TOOL_CALLS]} list, Llama 3's bare JSON...), for {@link MarkerParser}: where a call
 * may begin, how much text is certainly not one, and what a call region holds once complete.
 */
interface ToolSyntax {
    ObjectMapper JSON = new ObjectMapper();

    /** A call as the model wrote it: the function name and its arguments as compact JSON text. */
    record RawCall(String name, String arguments) {
    }

    /**
     * A decided call region: the calls in it, or null when it is not valid calls (then it is content);
     * {@code content} replaces the region's text as content when not null (the generic format's "response").
     */
    record Region(List<RawCall> calls, String content, int end) {
        static Region invalid(int end) {
            return new Region(null, null, end);
        }
    }

    /**
     * The first index at or after from where a call may begin, or -1.
     *
     * @param atStart nothing but whitespace has been generated before from
     */
    int start(CharSequence t, int from, boolean atStart);

    /** With no call start found: how far (from..end) the text is certainly content, holding back a marker's beginning. */
    int safe(CharSequence t, int from, boolean atStart);

    /** The call region beginning at from, or null while it needs more text (never null when done). */
    Region scan(CharSequence t, int from, boolean done);

    // ---- helpers shared by the syntaxes ----

    /** {@link #nameEnd} results: the text ends inside the name / it is no name. */
    int NEED_MORE = -1, BAD = -2;

    /**
     * Where a function name starting at from ends with the character stop (its index), as in
     * {@code <function=NAME>}: letters, digits, '_', '-', '.', at least one, at most 256.
     */
    static int nameEnd(CharSequence t, int from, char stop) {
        int j = from;
        while (j < t.length() && j - from <= 256) {
            char c = t.charAt(j);
            if (c == stop) return j > from ? j : BAD;
            if (!(Character.isLetterOrDigit(c) || c == '_' || c == '-' || c == '.')) return BAD;
            j++;
        }
        return j - from > 256 ? BAD : NEED_MORE;
    }

    /** Length of the longest tail of t[from..] that is a proper beginning of marker (text to hold back). */
    static int partialTail(CharSequence t, int from, String marker) {
        int n = t.length();
        for (int k = Math.min(marker.length() - 1, n - from); k > 0; k--) {
            boolean match = true;
            for (int j = 0; j < k && match; j++) match = t.charAt(n - k + j) == marker.charAt(j);
            if (match) return k;
        }
        return 0;
    }

    static boolean startsWith(CharSequence t, int at, String s) {
        if (at + s.length() > t.length()) return false;
        for (int j = 0; j < s.length(); j++) if (t.charAt(at + j) != s.charAt(j)) return false;
        return true;
    }

    /** t[at..] is a proper beginning of s (more text could complete it). */
    static boolean isPrefixOf(CharSequence t, int at, String s) {
        int n = t.length() - at;
        return n < s.length() && startsWith(s, 0, t.subSequence(at, t.length()).toString());
    }

    static int indexOf(CharSequence t, String s, int from) {
        return t.toString().indexOf(s, from);
    }

    static JsonNode parse(CharSequence t, int from, int end) {
        try {
            return JSON.readTree(t.subSequence(from, end).toString());
        } catch (JsonProcessingException e) {
            return null;
        }
    }

    /**
     * A call from a JSON object {"name": ..., "arguments": {...}} (or "parameters", as Llama 3 writes
     * them); arguments given as a string of JSON are unwrapped. Null when it is not such an object.
     */
    static RawCall call(JsonNode o) {
        if (o == null || !o.isObject()) return null;
        JsonNode fn = o.get("function");
        if (fn != null && fn.isObject() && !o.has("name")) o = fn; // {"type":"function","function":{...}}
        JsonNode name = o.get("name");
        if (name == null || !name.isTextual() || name.asText().isEmpty()) return null;
        JsonNode args = o.has("arguments") ? o.get("arguments") : o.get("parameters");
        if (args == null || args.isNull()) return new RawCall(name.asText(), "{}");
        if (args.isTextual()) {
            try {
                args = JSON.readTree(args.asText());
            } catch (JsonProcessingException e) {
                return null;
            }
        }
        if (args == null || !args.isObject()) return null;
        return new RawCall(name.asText(), args.toString());
    }

    /** Calls from a JSON array of call objects; null when any element is not one. */
    static List<RawCall> calls(JsonNode arr) {
        if (arr == null || !arr.isArray() || arr.isEmpty()) return null;
        List<RawCall> out = new ArrayList<>();
        for (JsonNode e : arr) {
            RawCall c = call(e);
            if (c == null) return null;
            out.add(c);
        }
        return out;
    }
}
