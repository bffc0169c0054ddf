package io.sluice.chat.output;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Qwen3-Coder's XML calls: {@code <tool_call>\n<function=NAME>\n<parameter=ARG>\nVALUE\n</parameter>\n...</function>\n</tool_call>}.
 * Values are raw text, made JSON by the parameter's schema ({@link Kind}): a string parameter's text
 * is the string as written (one newline either side dropped), other types are parsed as JSON. A
 * value ends at the first {@code </parameter>}; a block missing only its {@code </tool_call>} at the
 * end of the answer is still a call.
 */
final class QwenXmlSyntax implements ToolSyntax {
    static final String OPEN = "<tool_call>", CLOSE = "</tool_call>";
    static final String FUNCTION = "<function=", END_FUNCTION = "</function>";
    static final String PARAMETER = "<parameter=", END_PARAMETER = "</parameter>";

    /** How a parameter's text becomes JSON. */
    enum Kind {
        /** A string: the raw text. */
        RAW,
        /** Any other type: the text is JSON. */
        JSON,
        /** Unknown or mixed (no schema, a string or something else): JSON when it parses, else the text. */
        ANY
    }

    private final Map<String, JsonNode> schemas;

    /** @param schemas each offered function's parameter schema (a function missing here has unknown parameters) */
    QwenXmlSyntax(Map<String, JsonNode> schemas) {
        this.schemas = schemas;
    }

    @Override
    public int start(CharSequence t, int from, boolean atStart) {
        return ToolSyntax.indexOf(t, OPEN, from);
    }

    @Override
    public int safe(CharSequence t, int from, boolean atStart) {
        return t.length() - ToolSyntax.partialTail(t, from, OPEN);
    }

    /** Thrown inside a scan: the text ends before the block does, or the block is malformed. */
    private static final class Stop extends RuntimeException {
        final boolean more;

        Stop(boolean more) {
            super(null, null, false, false);
            this.more = more;
        }
    }

    private static final Stop MORE = new Stop(true), BAD_BLOCK = new Stop(false);

    @Override
    public Region scan(CharSequence t, int from, boolean done) {
        List<RawCall> calls = new ArrayList<>();
        int complete = -1; // just after the last complete </function>
        int i = from + OPEN.length();
        try {
            while (true) {
                i = JsonPrefix.skipWs(t, i);
                if (!calls.isEmpty() && ToolSyntax.startsWith(t, i, CLOSE)) return new Region(calls, null, i + CLOSE.length());
                i = expect(t, i, FUNCTION);
                int gt = name(t, i, '>');
                String fn = t.subSequence(i, gt).toString();
                ObjectNode args = JSON.createObjectNode();
                int j = gt + 1;
                while (true) {
                    j = JsonPrefix.skipWs(t, j);
                    if (ToolSyntax.startsWith(t, j, END_FUNCTION)) break;
                    j = expect(t, j, PARAMETER);
                    int pgt = name(t, j, '>');
                    String param = t.subSequence(j, pgt).toString();
                    j = value(t, pgt + 1, kind(schemas.get(fn), param), args, param);
                }
                calls.add(new RawCall(fn, args.toString()));
                i = complete = j + END_FUNCTION.length();
            }
        } catch (Stop s) {
            if (s.more) {
                if (!done) return null;
                if (complete >= 0 && JsonPrefix.skipWs(t, complete) == t.length()) return new Region(calls, null, t.length());
                return Region.invalid(t.length());
            }
            int close = ToolSyntax.indexOf(t, CLOSE, from + OPEN.length());
            if (close >= 0) return Region.invalid(close + CLOSE.length());
            return done ? Region.invalid(t.length()) : null;
        }
    }

    private static int expect(CharSequence t, int i, String lit) {
        if (ToolSyntax.startsWith(t, i, lit)) return i + lit.length();
        throw ToolSyntax.isPrefixOf(t, i, lit) || i >= t.length() ? MORE : BAD_BLOCK;
    }

    private static int name(CharSequence t, int i, char stop) {
        int end = ToolSyntax.nameEnd(t, i, stop);
        if (end == NEED_MORE) throw MORE;
        if (end == BAD) throw BAD_BLOCK;
        return end;
    }

    /** Reads the value at i into args; returns the index after its {@code </parameter>}. */
    private static int value(CharSequence t, int i, Kind kind, ObjectNode args, String param) {
        if (kind != Kind.RAW) {
            int p = JsonPrefix.skipWs(t, i);
            int end = p >= t.length() ? JsonPrefix.INCOMPLETE : JsonPrefix.end(t, p);
            if (end >= 0) {
                int close = JsonPrefix.skipWs(t, end);
                if (ToolSyntax.startsWith(t, close, END_PARAMETER)) {
                    args.set(param, ToolSyntax.parse(t, p, end));
                    return close + END_PARAMETER.length();
                }
                if (ToolSyntax.isPrefixOf(t, close, END_PARAMETER) || close >= t.length()) throw MORE;
            } else if (end == JsonPrefix.INCOMPLETE && ToolSyntax.indexOf(t, END_PARAMETER, p) < 0) {
                throw MORE;
            }
            if (kind == Kind.JSON) throw BAD_BLOCK;
        }
        int close = ToolSyntax.indexOf(t, END_PARAMETER, i);
        if (close < 0) throw MORE;
        int a = i < close && t.charAt(i) == '\n' ? i + 1 : i;
        int b = close > a && t.charAt(close - 1) == '\n' ? close - 1 : close;
        args.set(param, TextNode.valueOf(t.subSequence(a, b).toString()));
        return close + END_PARAMETER.length();
    }

    /** The kind of a parameter of a function with this parameter schema (null: unknown). */
    static Kind kind(JsonNode parameters, String param) {
        if (parameters == null) return Kind.ANY;
        return kind(parameters.path("properties").get(param), parameters);
    }

    /** The kind of a value with this schema ($refs local to root). */
    static Kind kind(JsonNode schema, JsonNode root) {
        schema = resolve(schema, root);
        if (schema == null || !schema.isObject()) return Kind.ANY;
        JsonNode type = schema.get("type");
        if (type != null && type.isTextual()) return type.asText().equals("string") ? Kind.RAW : Kind.JSON;
        if (type != null && type.isArray()) {
            boolean string = false, other = false;
            for (JsonNode x : type) {
                if (x.asText().equals("string")) string = true;
                else other = true;
            }
            return string && !other ? Kind.RAW : string ? Kind.ANY : Kind.JSON;
        }
        JsonNode values = schema.has("const") ? ToolSyntax.JSON.createArrayNode().add(schema.get("const")) : schema.get("enum");
        if (values != null && values.isArray() && !values.isEmpty()) {
            boolean allStrings = true;
            for (JsonNode v : values) allStrings &= v.isTextual();
            return allStrings ? Kind.RAW : Kind.JSON;
        }
        return Kind.ANY;
    }

    /** The schema a local {@code $ref} chain points to (null when it points nowhere). */
    static JsonNode resolve(JsonNode schema, JsonNode root) {
        for (int hops = 0; schema != null && schema.has("$ref") && hops < 32; hops++) {
            String ref = schema.get("$ref").asText();
            if (!ref.startsWith("#")) return null;
            JsonNode target = root.at(ref.substring(1));
            schema = target.isMissingNode() ? null : target;
        }
        return schema;
    }
}
