package io.sluice.template;

import io.sluice.template.Value.Bool;
import io.sluice.template.Value.Dict;
import io.sluice.template.Value.Int;
import io.sluice.template.Value.Real;
import io.sluice.template.Value.Seq;
import io.sluice.template.Value.Str;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Python's json.dumps, as Hugging Face's tojson filter calls it: ensure_ascii off by default, Python's
 * separators (", " and ": ", or "," and ": " with an indent), keys in insertion order unless sort_keys.
 */
final class Json {
    private final Interpreter in;
    private final boolean ensureAscii;
    private final String indent;
    private final String itemSep;
    private final String keySep;
    private final boolean sortKeys;
    private final StringBuilder sb = new StringBuilder();

    private Json(Interpreter in, boolean ensureAscii, String indent, String itemSep, String keySep, boolean sortKeys) {
        this.in = in;
        this.ensureAscii = ensureAscii;
        this.indent = indent;
        this.itemSep = itemSep;
        this.keySep = keySep;
        this.sortKeys = sortKeys;
    }

    /** tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False). */
    static String dumps(Interpreter in, Value v, Args a) {
        a.expect("tojson", "ensure_ascii", "indent", "separators", "sort_keys");
        boolean ascii = Py.truthy(a.get(0, "ensure_ascii", Bool.FALSE));
        Value ind = a.get(1, "indent", Value.None.NONE);
        String indent = switch (ind) {
            case Value.None n -> null;
            case Str s -> s.value();
            case Int i -> {
                if (i.value() > 1000) throw Py.typeError("tojson indent too large: " + i.value());
                yield " ".repeat((int) Math.max(0, i.value()));
            }
            default -> throw Py.typeError("tojson indent must be an int or a string, not " + Py.typeName(ind));
        };
        String itemSep = indent == null ? ", " : ",", keySep = ": ";
        Value seps = a.get(2, "separators", Value.None.NONE);
        if (!(seps instanceof Value.None)) {
            if (!(seps instanceof Seq s) || s.items.size() != 2 || !(s.items.get(0) instanceof Str x) || !(s.items.get(1) instanceof Str y)) {
                throw Py.typeError("tojson separators must be a pair of strings");
            }
            itemSep = x.value();
            keySep = y.value();
        }
        Json j = new Json(in, ascii, indent, itemSep, keySep, Py.truthy(a.get(3, "sort_keys", Bool.FALSE)));
        j.write(v, 0);
        return j.sb.toString();
    }

    private void write(Value v, int level) {
        if (level > Value.MAX_DATA_DEPTH) throw new TemplateLimitException(TemplateLimits.Limit.DEPTH, "tojson: data nested too deeply (or contains itself)", 0);
        in.work(1);
        switch (v) {
            case Value.None n -> sb.append("null");
            case Bool b -> sb.append(b.value() ? "true" : "false");
            case Int i -> sb.append(i.value());
            case Real r -> sb.append(number(r.value()));
            case Str s -> string(s.value());
            case Seq s -> {
                if (s.items.isEmpty()) {
                    sb.append("[]");
                    break;
                }
                sb.append('[');
                for (int k = 0; k < s.items.size(); k++) {
                    sb.append(k == 0 ? "" : itemSep);
                    newline(level + 1);
                    write(s.items.get(k), level + 1);
                }
                newline(level);
                sb.append(']');
            }
            case Dict d -> {
                if (d.map.isEmpty()) {
                    sb.append("{}");
                    break;
                }
                List<Map.Entry<Value, Value>> entries = new ArrayList<>(d.map.entrySet());
                if (sortKeys) entries.sort((x, y) -> {
                    in.work(1);
                    return Py.compare(x.getKey(), y.getKey());
                });
                sb.append('{');
                boolean first = true;
                for (var e : entries) {
                    sb.append(first ? "" : itemSep);
                    first = false;
                    newline(level + 1);
                    string(key(e.getKey()));
                    sb.append(keySep);
                    write(e.getValue(), level + 1);
                }
                newline(level);
                sb.append('}');
            }
            default -> throw Py.typeError("Object of type " + Py.typeName(v) + " is not JSON serializable");
        }
        if (sb.length() > in.limits().maxOutputChars()) {
            throw new TemplateLimitException(TemplateLimits.Limit.OUTPUT, "tojson output longer than " + in.limits().maxOutputChars() + " characters", 0);
        }
    }

    private static String key(Value k) {
        return switch (k) {
            case Str s -> s.value();
            case Bool b -> b.value() ? "true" : "false";
            case Value.None n -> "null";
            case Int i -> Long.toString(i.value());
            case Real r -> number(r.value());
            default -> throw Py.typeError("keys must be str, int, float, bool or None, not " + Py.typeName(k));
        };
    }

    private static String number(double d) {
        if (Double.isNaN(d)) return "NaN";
        if (Double.isInfinite(d)) return d > 0 ? "Infinity" : "-Infinity";
        return Py.floatRepr(d);
    }

    private void newline(int level) {
        if (indent == null) return;
        sb.append('\n');
        for (int k = 0; k < level; k++) sb.append(indent);
    }

    private void string(String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20 || (ensureAscii && c > 0x7e)) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        sb.append('"');
    }
}
