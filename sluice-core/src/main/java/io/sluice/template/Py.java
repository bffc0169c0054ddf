package io.sluice.template;

import io.sluice.template.Value.Bool;
import io.sluice.template.Value.Dict;
import io.sluice.template.Value.Func;
import io.sluice.template.Value.Int;
import io.sluice.template.Value.Namespace;
import io.sluice.template.Value.Obj;
import io.sluice.template.Value.Real;
import io.sluice.template.Value.Seq;
import io.sluice.template.Value.Str;
import io.sluice.template.Value.Undefined;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Python's semantics for the values: truth, str/repr, equality, ordering, arithmetic, containment, iteration. */
public final class Py {
    private Py() {
    }

    static TemplateException typeError(String message) {
        return new TemplateException(message, 0);
    }

    /** The error Jinja raises when an undefined value is used for more than printing, iterating or testing. */
    static TemplateException undefinedError(Undefined u) {
        return new TemplateException(u.hint(), 0);
    }

    public static String typeName(Value v) {
        return switch (v) {
            case Value.None n -> "NoneType";
            case Undefined u -> "Undefined";
            case Bool b -> "bool";
            case Int i -> "int";
            case Real r -> "float";
            case Str s -> "str";
            case Seq s -> s.tuple ? "tuple" : "list";
            case Dict d -> "dict";
            case Namespace n -> "Namespace";
            case Func f -> f.kind;
            case Obj o -> o.typeName();
        };
    }

    public static boolean truthy(Value v) {
        return switch (v) {
            case Value.None n -> false;
            case Undefined u -> false;
            case Bool b -> b.value();
            case Int i -> i.value() != 0;
            case Real r -> r.value() != 0;
            case Str s -> !s.value().isEmpty();
            case Seq s -> !s.items.isEmpty();
            case Dict d -> !d.map.isEmpty();
            default -> true;
        };
    }

    // ---- str / repr ----

    /** Python's str(): what {{ value }} prints. */
    public static String str(Value v) {
        return switch (v) {
            case Str s -> s.value();
            case Undefined u -> "";
            default -> repr(v);
        };
    }

    public static String repr(Value v) {
        StringBuilder sb = new StringBuilder();
        repr(v, sb, 0);
        return sb.toString();
    }

    private static void repr(Value v, StringBuilder sb, int depth) {
        if (depth > Value.MAX_DATA_DEPTH) throw new TemplateLimitException(TemplateLimits.Limit.DEPTH, "value nested too deeply to print (or contains itself)", 0);
        switch (v) {
            case Value.None n -> sb.append("None");
            case Undefined u -> sb.append("Undefined");
            case Bool b -> sb.append(b.value() ? "True" : "False");
            case Int i -> sb.append(i.value());
            case Real r -> sb.append(floatRepr(r.value()));
            case Str s -> strRepr(s.value(), sb);
            case Seq s -> {
                sb.append(s.tuple ? '(' : '[');
                for (int i = 0; i < s.items.size(); i++) {
                    if (i > 0) sb.append(", ");
                    repr(s.items.get(i), sb, depth + 1);
                }
                if (s.tuple && s.items.size() == 1) sb.append(',');
                sb.append(s.tuple ? ')' : ']');
            }
            case Dict d -> {
                sb.append('{');
                boolean first = true;
                for (var e : d.map.entrySet()) {
                    if (!first) sb.append(", ");
                    first = false;
                    repr(e.getKey(), sb, depth + 1);
                    sb.append(": ");
                    repr(e.getValue(), sb, depth + 1);
                }
                sb.append('}');
            }
            case Namespace n -> {
                sb.append("<Namespace {");
                boolean first = true;
                for (var e : n.attrs.entrySet()) {
                    if (!first) sb.append(", ");
                    first = false;
                    strRepr(e.getKey(), sb);
                    sb.append(": ");
                    repr(e.getValue(), sb, depth + 1);
                }
                sb.append("}>");
            }
            case Func f -> sb.append('<').append(f.kind).append(' ').append(f.name).append('>');
            case Obj o -> sb.append('<').append(o.typeName()).append('>');
        }
    }

    static void strRepr(String s, StringBuilder sb) {
        char quote = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
        sb.append(quote);
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i);
            i += Character.charCount(c);
            if (c == quote || c == '\\') sb.append('\\').appendCodePoint(c);
            else if (c == '\t') sb.append("\\t");
            else if (c == '\n') sb.append("\\n");
            else if (c == '\r') sb.append("\\r");
            else if (c < 0x20 || c == 0x7f) sb.append(String.format("\\x%02x", c));
            else if (c < 0x7f || isPrintable(c)) sb.appendCodePoint(c);
            else if (c <= 0xff) sb.append(String.format("\\x%02x", c));
            else if (c <= 0xffff) sb.append(String.format("\\u%04x", c));
            else sb.append(String.format("\\U%08x", c));
        }
        sb.append(quote);
    }

    /** Python's str.isprintable() for one code point. */
    static boolean isPrintable(int c) {
        if (c == ' ') return true;
        return switch (Character.getType(c)) {
            case Character.CONTROL, Character.FORMAT, Character.SURROGATE, Character.PRIVATE_USE, Character.UNASSIGNED,
                 Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR, Character.SPACE_SEPARATOR -> false;
            default -> true;
        };
    }

    /** Python's repr(float): the shortest round-tripping digits, exponent form below 1e-4 and from 1e16. */
    public static String floatRepr(double d) {
        if (Double.isNaN(d)) return "nan";
        if (Double.isInfinite(d)) return d > 0 ? "inf" : "-inf";
        if (d == 0) return 1 / d < 0 ? "-0.0" : "0.0";
        // Double.toString gives the shortest uniquely identifying digits (JDK 19+), as Python's repr does.
        BigDecimal bd = new BigDecimal(Double.toString(Math.abs(d))).stripTrailingZeros();
        String digits = bd.unscaledValue().toString();
        int exp = digits.length() - 1 - bd.scale();
        StringBuilder sb = new StringBuilder();
        if (d < 0) sb.append('-');
        if (exp >= -4 && exp < 16) {
            String plain = bd.toPlainString();
            sb.append(plain);
            if (plain.indexOf('.') < 0) sb.append(".0");
        } else {
            sb.append(digits.charAt(0));
            if (digits.length() > 1) sb.append('.').append(digits, 1, digits.length());
            sb.append('e').append(exp < 0 ? '-' : '+');
            int a = Math.abs(exp);
            if (a < 10) sb.append('0');
            sb.append(a);
        }
        return sb.toString();
    }

    // ---- numbers ----

    static boolean isNumber(Value v) {
        return v instanceof Int || v instanceof Real || v instanceof Bool;
    }

    /** int or bool (Python's bool is an int). */
    static boolean isIntegral(Value v) {
        return v instanceof Int || v instanceof Bool;
    }

    static long asLong(Value v) {
        return switch (v) {
            case Int i -> i.value();
            case Bool b -> b.value() ? 1 : 0;
            default -> throw typeError("'" + typeName(v) + "' object cannot be interpreted as an integer");
        };
    }

    static double asDouble(Value v) {
        return switch (v) {
            case Int i -> i.value();
            case Bool b -> b.value() ? 1 : 0;
            case Real r -> r.value();
            default -> throw typeError("must be real number, not " + typeName(v));
        };
    }

    // ---- equality and ordering ----

    public static boolean eq(Value a, Value b) {
        return eq(a, b, 0);
    }

    private static boolean eq(Value a, Value b, int depth) {
        if (depth > Value.MAX_DATA_DEPTH) throw new TemplateLimitException(TemplateLimits.Limit.DEPTH, "values nested too deeply to compare", 0);
        if (a == b) return true;
        if (isNumber(a) && isNumber(b)) {
            if (isIntegral(a) && isIntegral(b)) return asLong(a) == asLong(b);
            return asDouble(a) == asDouble(b);
        }
        return switch (a) {
            case Str s -> b instanceof Str t && s.value().equals(t.value());
            case Value.None n -> b instanceof Value.None;
            case Undefined u -> b instanceof Undefined;
            case Seq s -> {
                if (!(b instanceof Seq t) || s.tuple != t.tuple || s.items.size() != t.items.size()) yield false;
                for (int i = 0; i < s.items.size(); i++) if (!eq(s.items.get(i), t.items.get(i), depth + 1)) yield false;
                yield true;
            }
            case Dict d -> {
                if (!(b instanceof Dict e) || d.map.size() != e.map.size()) yield false;
                for (var en : d.map.entrySet()) {
                    Value o = e.map.get(en.getKey());
                    if (o == null || !eq(en.getValue(), o, depth + 1)) yield false;
                }
                yield true;
            }
            default -> false;
        };
    }

    /** Python's ordering (<, sort, min/max); unorderable pairs are a TypeError as in Python. */
    public static int compare(Value a, Value b) {
        return compare(a, b, "<");
    }

    static int compare(Value a, Value b, String op) {
        if (isNumber(a) && isNumber(b)) {
            if (isIntegral(a) && isIntegral(b)) return Long.compare(asLong(a), asLong(b));
            return Double.compare(asDouble(a), asDouble(b)) ;
        }
        if (a instanceof Str s && b instanceof Str t) return compareCodePoints(s.value(), t.value());
        if (a instanceof Seq s && b instanceof Seq t && s.tuple == t.tuple) {
            int n = Math.min(s.items.size(), t.items.size());
            for (int i = 0; i < n; i++) {
                Value x = s.items.get(i), y = t.items.get(i);
                if (!eq(x, y)) return compare(x, y, op);
            }
            return Integer.compare(s.items.size(), t.items.size());
        }
        if (a instanceof Undefined u) throw undefinedError(u);
        if (b instanceof Undefined u) throw undefinedError(u);
        throw typeError("'" + op + "' not supported between instances of '" + typeName(a) + "' and '" + typeName(b) + "'");
    }

    static int compareCodePoints(String a, String b) {
        int i = 0, j = 0;
        while (i < a.length() && j < b.length()) {
            int x = a.codePointAt(i), y = b.codePointAt(j);
            if (x != y) return Integer.compare(x, y);
            i += Character.charCount(x);
            j += Character.charCount(y);
        }
        return Integer.compare(a.length() - i, b.length() - j);
    }

    // ---- arithmetic ----

    private static TemplateException operandError(String op, Value a, Value b) {
        if (a instanceof Undefined u) return undefinedError(u);
        if (b instanceof Undefined u) return undefinedError(u);
        if (op.equals("+") && (a instanceof Str || a instanceof Seq)) {
            return typeError("can only concatenate " + typeName(a) + " (not \"" + typeName(b) + "\") to " + typeName(a));
        }
        return typeError("unsupported operand type(s) for " + op + ": '" + typeName(a) + "' and '" + typeName(b) + "'");
    }

    private static TemplateException overflow() {
        return typeError("integer overflow: template integers are 64-bit");
    }

    static Value add(Interpreter in, Value a, Value b) {
        if (isNumber(a) && isNumber(b)) {
            if (isIntegral(a) && isIntegral(b)) {
                try {
                    return new Int(Math.addExact(asLong(a), asLong(b)));
                } catch (ArithmeticException e) {
                    throw overflow();
                }
            }
            return new Real(asDouble(a) + asDouble(b));
        }
        if (a instanceof Str s && b instanceof Str t) {
            in.charge((long) s.value().length() + t.value().length());
            if (s.isMarkup() != t.isMarkup()) { // Markup + str escapes the str (and str + Markup, via Markup.__radd__)
                return Str.markup((s.isMarkup() ? s.value() : htmlEscape(s.value())) + (t.isMarkup() ? t.value() : htmlEscape(t.value())));
            }
            Taint.Buf sb = new Taint.Buf().append(s).append(t); // each character keeps its provenance
            return s.isMarkup() ? sb.toMarkup() : sb.toStr();
        }
        if (a instanceof Seq s && b instanceof Seq t && s.tuple == t.tuple) {
            in.charge((long) s.items.size() + t.items.size());
            ArrayList<Value> out = new ArrayList<>(s.items.size() + t.items.size());
            out.addAll(s.items);
            out.addAll(t.items);
            return new Seq(out, s.tuple);
        }
        throw operandError("+", a, b);
    }

    /** MarkupSafe's escape: &, <, >, " and ' as entities. */
    static String htmlEscape(String s) {
        StringBuilder sb = null;
        for (int i = 0; i < s.length(); i++) {
            String rep = switch (s.charAt(i)) {
                case '&' -> "&amp;";
                case '<' -> "&lt;";
                case '>' -> "&gt;";
                case '"' -> "&#34;";
                case '\'' -> "&#39;";
                default -> null;
            };
            if (rep != null && sb == null) sb = new StringBuilder(s.length() + 16).append(s, 0, i);
            if (sb != null) {
                if (rep != null) sb.append(rep);
                else sb.append(s.charAt(i));
            }
        }
        return sb == null ? s : sb.toString();
    }

    static Value sub(Value a, Value b) {
        if (isNumber(a) && isNumber(b)) {
            if (isIntegral(a) && isIntegral(b)) {
                try {
                    return new Int(Math.subtractExact(asLong(a), asLong(b)));
                } catch (ArithmeticException e) {
                    throw overflow();
                }
            }
            return new Real(asDouble(a) - asDouble(b));
        }
        throw operandError("-", a, b);
    }

    static Value mul(Interpreter in, Value a, Value b) {
        if (isNumber(a) && isNumber(b)) {
            if (isIntegral(a) && isIntegral(b)) {
                try {
                    return new Int(Math.multiplyExact(asLong(a), asLong(b)));
                } catch (ArithmeticException e) {
                    throw overflow();
                }
            }
            return new Real(asDouble(a) * asDouble(b));
        }
        if (isIntegral(a) && (b instanceof Str || b instanceof Seq)) return mul(in, b, a);
        if (a instanceof Str s && isIntegral(b)) {
            long n = Math.max(0, asLong(b));
            if (n == 0 || s.value().isEmpty()) return Str.EMPTY;
            in.charge(sizeTimes(s.value().length(), n));
            return new Str(s.value().repeat((int) n));
        }
        if (a instanceof Seq s && isIntegral(b)) {
            long n = Math.max(0, asLong(b));
            ArrayList<Value> out = new ArrayList<>();
            if (n > 0 && !s.items.isEmpty()) {
                in.charge(sizeTimes(s.items.size(), n));
                for (long i = 0; i < n; i++) out.addAll(s.items);
            }
            return new Seq(out, s.tuple);
        }
        throw operandError("*", a, b);
    }

    /** len * n, saturating (the charge then fails on the limit instead of overflowing). */
    static long sizeTimes(long len, long n) {
        return len != 0 && n > Long.MAX_VALUE / len ? Long.MAX_VALUE : len * n;
    }

    static Value div(Value a, Value b) {
        if (isNumber(a) && isNumber(b)) {
            double y = asDouble(b);
            if (y == 0) throw typeError("division by zero");
            return new Real(asDouble(a) / y);
        }
        throw operandError("/", a, b);
    }

    static Value floorDiv(Value a, Value b) {
        if (isNumber(a) && isNumber(b)) {
            if (isIntegral(a) && isIntegral(b)) {
                long y = asLong(b);
                if (y == 0) throw typeError("integer division or modulo by zero");
                if (asLong(a) == Long.MIN_VALUE && y == -1) throw overflow();
                return new Int(Math.floorDiv(asLong(a), y));
            }
            double y = asDouble(b);
            if (y == 0) throw typeError("float floor division by zero");
            return new Real(Math.floor(asDouble(a) / y));
        }
        throw operandError("//", a, b);
    }

    static Value mod(Interpreter in, Value a, Value b) {
        if (isNumber(a) && isNumber(b)) {
            if (isIntegral(a) && isIntegral(b)) {
                long y = asLong(b);
                if (y == 0) throw typeError("integer division or modulo by zero");
                return new Int(Math.floorMod(asLong(a), y));
            }
            double x = asDouble(a), y = asDouble(b);
            if (y == 0) throw typeError("float modulo");
            double r = x % y;
            if (r != 0 && (r < 0) != (y < 0)) r += y;
            if (r == 0) r = Math.copySign(0.0, y);
            return new Real(r);
        }
        if (a instanceof Str s) return new Str(PyFormat.percent(in, s.value(), b));
        throw operandError("%", a, b);
    }

    static Value pow(Value a, Value b) {
        if (isNumber(a) && isNumber(b)) {
            if (isIntegral(a) && isIntegral(b) && asLong(b) >= 0) {
                long base = asLong(a), e = asLong(b), r = 1;
                try {
                    while (e > 0) {
                        if ((e & 1) != 0) r = Math.multiplyExact(r, base);
                        e >>= 1;
                        if (e > 0) base = Math.multiplyExact(base, base);
                    }
                } catch (ArithmeticException ex) {
                    throw overflow();
                }
                return new Int(r);
            }
            double x = asDouble(a), y = asDouble(b);
            if (x == 0 && y < 0) throw typeError("0.0 cannot be raised to a negative power");
            double r = Math.pow(x, y);
            if (Double.isNaN(r) && !Double.isNaN(x) && !Double.isNaN(y)) throw typeError("negative number cannot be raised to a fractional power");
            return new Real(r);
        }
        throw operandError("**", a, b);
    }

    static Value neg(Value a) {
        return switch (a) {
            case Int i -> {
                if (i.value() == Long.MIN_VALUE) throw overflow();
                yield new Int(-i.value());
            }
            case Bool b -> new Int(b.value() ? -1 : 0);
            case Real r -> new Real(-r.value());
            case Undefined u -> throw undefinedError(u);
            default -> throw typeError("bad operand type for unary -: '" + typeName(a) + "'");
        };
    }

    static Value pos(Value a) {
        return switch (a) {
            case Int i -> i;
            case Bool b -> new Int(b.value() ? 1 : 0);
            case Real r -> r;
            case Undefined u -> throw undefinedError(u);
            default -> throw typeError("bad operand type for unary +: '" + typeName(a) + "'");
        };
    }

    // ---- containers ----

    /** {@code item in container}. */
    static boolean contains(Value container, Value item) {
        return switch (container) {
            case Str s -> {
                if (!(item instanceof Str t)) throw typeError("'in <string>' requires string as left operand, not " + typeName(item));
                yield s.value().contains(t.value());
            }
            case Seq s -> {
                for (Value v : s.items) if (eq(v, item)) yield true;
                yield false;
            }
            case Dict d -> {
                if (d.map.containsKey(item)) yield true;
                if (isNumber(item)) for (Value k : d.map.keySet()) if (eq(k, item)) yield true;
                yield false;
            }
            case Undefined u -> false;
            default -> throw typeError("argument of type '" + typeName(container) + "' is not iterable");
        };
    }

    /** The items a for loop (or list()) visits: list/tuple items, dict keys, string characters; undefined is empty. */
    static List<Value> iterate(Value v) {
        return switch (v) {
            case Seq s -> new ArrayList<>(s.items);
            case Dict d -> new ArrayList<>(d.map.keySet());
            case Str s -> PyStr.chars(s.value());
            case Undefined u -> List.of();
            default -> throw typeError("'" + typeName(v) + "' object is not iterable");
        };
    }

    static boolean isIterable(Value v) {
        return v instanceof Seq || v instanceof Dict || v instanceof Str || v instanceof Undefined;
    }

    static int len(Value v) {
        return switch (v) {
            case Str s -> s.value().codePointCount(0, s.value().length());
            case Seq s -> s.items.size();
            case Dict d -> d.map.size();
            case Undefined u -> 0;
            case Namespace n -> throw typeError("object of type 'Namespace' has no len()");
            default -> throw typeError("object of type '" + typeName(v) + "' has no len()");
        };
    }

    /** Python's index normalisation: negative counts from the end; null when out of range. */
    static Integer index(long i, int size) {
        long j = i < 0 ? i + size : i;
        return j < 0 || j >= size ? null : (int) j;
    }

    /** Python slice of a list/tuple/str with optional start, stop and step (nulls are omitted parts). */
    static Value slice(Interpreter in, Value v, Value start, Value stop, Value step) {
        long st = step == null || step instanceof Value.None ? 1 : asLong(step);
        if (st == 0) throw typeError("slice step cannot be zero");
        int n = switch (v) {
            case Seq s -> s.items.size();
            case Str s -> PyStr.isBmpOnly(s.value()) ? s.value().length() : s.value().codePointCount(0, s.value().length());
            case Undefined u -> throw undefinedError(u);
            default -> -1;
        };
        if (n < 0) return new Undefined("'" + typeName(v) + " object' is not subscriptable");
        long lo, hi;
        if (st > 0) {
            lo = bound(start, n, 0, 0, n);
            hi = bound(stop, n, n, 0, n);
        } else {
            lo = bound(start, n, n - 1, -1, n - 1);
            hi = bound(stop, n, -1, -1, n - 1);
        }
        List<Integer> idx = new ArrayList<>();
        if (st > 0) for (long i = lo; i < hi; i += st) idx.add((int) i);
        else for (long i = lo; i > hi; i += st) idx.add((int) i);
        in.charge(idx.size());
        if (v instanceof Seq s) {
            ArrayList<Value> out = new ArrayList<>(idx.size());
            for (int i : idx) out.add(s.items.get(i));
            return new Seq(out, s.tuple);
        }
        Str str = (Str) v;
        String s = str.value();
        StringBuilder sb = new StringBuilder(idx.size());
        if (PyStr.isBmpOnly(s)) { // chars are code points here: each keeps its provenance
            if (st == 1) {
                int b = (int) lo, e = (int) Math.max(lo, hi);
                return Str.of(s.substring(b, e), Taint.sub(str.taint(), b, e));
            }
            Taint.Buf tb = new Taint.Buf(sb);
            for (int i : idx) tb.appendChar(s, str.taint(), i);
            return tb.toStr();
        } else {
            int[] cps = s.codePoints().toArray();
            for (int i : idx) sb.appendCodePoint(cps[i]);
        }
        return new Str(sb.toString());
    }

    private static long bound(Value v, int n, long dflt, long min, long max) {
        if (v == null || v instanceof Value.None) return dflt;
        long i = asLong(v);
        if (i < 0) i += n;
        return Math.max(min, Math.min(max, i));
    }

    /** A template-facing description of a value's type for error messages, as Jinja words them. */
    static String objectDescription(Value v) {
        return v instanceof Value.None ? "None" : "'" + typeName(v) + " object'";
    }

    static Map<Value, Value> dict(Value v) {
        if (v instanceof Dict d) return d.map;
        throw typeError("expected a dict, got " + typeName(v));
    }
}
