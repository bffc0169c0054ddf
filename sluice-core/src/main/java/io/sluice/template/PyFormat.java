package io.sluice.template;

import io.sluice.template.Value.Dict;
import io.sluice.template.Value.Real;
import io.sluice.template.Value.Seq;
import io.sluice.template.Value.Str;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.List;
import java.util.Map;

/** Python's printf-style {@code str % args} and {@code str.format(...)}, for the conversions templates use. */
final class PyFormat {
    private PyFormat() {
    }

    private static TemplateException error(String m) {
        return Py.typeError(m);
    }

    /** One parsed conversion: flags, width, precision (-1 = none), type. */
    private record Spec(char fill, char align, char sign, boolean alt, boolean zero, long width, int precision, char type, boolean grouping) {
    }

    static String percent(Interpreter in, String fmt, Value args) {
        List<Value> list = args instanceof Seq s && s.tuple ? s.items : List.of(args);
        Map<Value, Value> mapping = args instanceof Dict d ? d.map : null;
        StringBuilder out = new StringBuilder();
        int ai = 0;
        int n = fmt.length();
        for (int i = 0; i < n; i++) {
            char c = fmt.charAt(i);
            if (c != '%') {
                out.append(c);
                continue;
            }
            if (++i >= n) throw error("incomplete format");
            Value arg = null;
            if (fmt.charAt(i) == '(') {
                int close = fmt.indexOf(')', i);
                if (close < 0) throw error("incomplete format key");
                if (mapping == null) throw error("format requires a mapping");
                arg = mapping.get(new Str(fmt.substring(i + 1, close)));
                if (arg == null) throw error("format key '" + fmt.substring(i + 1, close) + "' not found");
                i = close + 1;
            }
            boolean left = false, zero = false, alt = false;
            char sign = '-';
            for (; i < n; i++) {
                char f = fmt.charAt(i);
                if (f == '-') left = true;
                else if (f == '0') zero = true;
                else if (f == '#') alt = true;
                else if (f == '+') sign = '+';
                else if (f == ' ') sign = sign == '+' ? '+' : ' ';
                else break;
            }
            long width = 0;
            while (i < n && Character.isDigit(fmt.charAt(i))) width = Math.min(1L << 40, width * 10 + fmt.charAt(i++) - '0');
            int precision = -1;
            if (i < n && fmt.charAt(i) == '.') {
                i++;
                precision = 0;
                while (i < n && Character.isDigit(fmt.charAt(i))) precision = Math.min(1 << 20, precision * 10 + fmt.charAt(i++) - '0');
            }
            while (i < n && "hlL".indexOf(fmt.charAt(i)) >= 0) i++;
            if (i >= n) throw error("incomplete format");
            char type = fmt.charAt(i);
            if (type == '%') {
                out.append('%');
                continue;
            }
            if (arg == null) {
                if (mapping != null && !(args instanceof Seq)) arg = args;
                else if (ai >= list.size()) throw error("not enough arguments for format string");
                else arg = list.get(ai++);
            }
            Spec spec = new Spec(zero && !left && type != 's' && type != 'r' ? '0' : ' ', left ? '<' : '>', sign, alt, zero && !left, width, precision, type, false);
            out.append(convert(in, arg, spec, true));
        }
        if (mapping == null && ai < list.size()) throw error("not all arguments converted during string formatting");
        in.charge(out.length());
        return out.toString();
    }

    /** str.format(*args, **kwargs) with auto/positional/named fields, !r/!s and a format spec. */
    static String format(Interpreter in, String fmt, Args args) {
        StringBuilder out = new StringBuilder();
        int auto = 0;
        int n = fmt.length();
        for (int i = 0; i < n; i++) {
            char c = fmt.charAt(i);
            if (c == '}') {
                if (i + 1 < n && fmt.charAt(i + 1) == '}') {
                    out.append('}');
                    i++;
                    continue;
                }
                throw error("Single '}' encountered in format string");
            }
            if (c != '{') {
                out.append(c);
                continue;
            }
            if (i + 1 < n && fmt.charAt(i + 1) == '{') {
                out.append('{');
                i++;
                continue;
            }
            int close = fmt.indexOf('}', i);
            if (close < 0) throw error("Single '{' encountered in format string");
            String field = fmt.substring(i + 1, close);
            i = close;
            String specText = "";
            int colon = field.indexOf(':');
            if (colon >= 0) {
                specText = field.substring(colon + 1);
                field = field.substring(0, colon);
            }
            char conv = 0;
            int bang = field.indexOf('!');
            if (bang >= 0) {
                if (bang + 2 != field.length()) throw error("expected ':' after conversion specifier");
                conv = field.charAt(bang + 1);
                field = field.substring(0, bang);
            }
            Value v;
            if (field.isEmpty()) {
                v = args.get(auto++, null);
                if (v == null) throw error("Replacement index " + (auto - 1) + " out of range for positional args tuple");
            } else if (field.chars().allMatch(Character::isDigit)) {
                v = args.get(Integer.parseInt(field), null);
                if (v == null) throw error("Replacement index " + field + " out of range for positional args tuple");
            } else if (field.chars().allMatch(ch -> Character.isLetterOrDigit(ch) || ch == '_')) {
                v = args.keywords().get(field);
                if (v == null) throw error("KeyError: '" + field + "'");
            } else {
                throw error("format fields with attribute or index access are not supported: {" + field + "}");
            }
            if (conv == 'r' || conv == 'a') v = new Str(Py.repr(v));
            else if (conv == 's') v = new Str(Py.str(v));
            else if (conv != 0) throw error("Unknown conversion specifier " + conv);
            out.append(convert(in, v, parseSpec(specText, v), false));
        }
        in.charge(out.length());
        return out.toString();
    }

    private static Spec parseSpec(String s, Value v) {
        int i = 0;
        char fill = ' ', align = 0;
        if (s.length() >= 2 && "<>^=".indexOf(s.charAt(1)) >= 0) {
            fill = s.charAt(0);
            align = s.charAt(1);
            i = 2;
        } else if (!s.isEmpty() && "<>^=".indexOf(s.charAt(0)) >= 0) {
            align = s.charAt(0);
            i = 1;
        }
        char sign = '-';
        if (i < s.length() && "+- ".indexOf(s.charAt(i)) >= 0) sign = s.charAt(i++);
        boolean alt = false, zero = false, grouping = false;
        if (i < s.length() && s.charAt(i) == '#') {
            alt = true;
            i++;
        }
        if (i < s.length() && s.charAt(i) == '0') {
            zero = true;
            i++;
        }
        long width = 0;
        while (i < s.length() && Character.isDigit(s.charAt(i))) width = Math.min(1L << 40, width * 10 + s.charAt(i++) - '0');
        if (i < s.length() && (s.charAt(i) == ',' || s.charAt(i) == '_')) {
            grouping = true;
            i++;
        }
        int precision = -1;
        if (i < s.length() && s.charAt(i) == '.') {
            i++;
            precision = 0;
            while (i < s.length() && Character.isDigit(s.charAt(i))) precision = Math.min(1 << 20, precision * 10 + s.charAt(i++) - '0');
        }
        char type = 0;
        if (i < s.length()) type = s.charAt(i++);
        if (i != s.length()) throw error("Invalid format specifier '" + s + "'");
        boolean numeric = Py.isNumber(v);
        if (align == 0) align = zero && numeric ? '=' : numeric ? '>' : '<';
        if (zero && fill == ' ') fill = '0';
        return new Spec(fill, align, sign, alt, zero, width, precision, type, grouping);
    }

    /** Converts one value per spec and pads it to the width. */
    private static String convert(Interpreter in, Value v, Spec sp, boolean printf) {
        String body;
        String signText = "";
        char t = sp.type();
        switch (t) {
            case 0, 's', 'r', 'a' -> {
                if (t == 0 && Py.isNumber(v) && sp.precision() < 0) {
                    return number(in, v instanceof Real ? Py.floatRepr(((Real) v).value()) : Long.toString(Py.asLong(v)), sp, v);
                }
                if (t == 0 && v instanceof Real r) return number(in, floatFormat(r.value(), 'g', sp.precision(), sp.alt()), sp, v);
                body = t == 'r' || t == 'a' ? Py.repr(v) : Py.str(v);
                if (sp.precision() >= 0 && body.codePointCount(0, body.length()) > sp.precision()) {
                    body = body.substring(0, body.offsetByCodePoints(0, sp.precision()));
                }
                return pad(in, body, sp);
            }
            case 'd', 'i', 'u' -> {
                if (!Py.isNumber(v)) throw error("%" + t + " format: a real number is required, not " + Py.typeName(v));
                long x = v instanceof Real r ? (long) r.value() : Py.asLong(v);
                if (!printf && v instanceof Real) throw error("Unknown format code 'd' for object of type 'float'");
                return number(in, Long.toString(x), sp, v);
            }
            case 'x', 'X', 'o', 'b' -> {
                if (!Py.isIntegral(v)) throw error("%" + t + " format: an integer is required, not " + Py.typeName(v));
                long x = Py.asLong(v);
                String digits = switch (t) {
                    case 'x' -> Long.toHexString(Math.abs(x));
                    case 'X' -> Long.toHexString(Math.abs(x)).toUpperCase();
                    case 'o' -> Long.toOctalString(Math.abs(x));
                    default -> Long.toBinaryString(Math.abs(x));
                };
                if (sp.alt()) digits = "0" + (t == 'X' ? 'X' : t) + digits;
                return number(in, (x < 0 ? "-" : "") + digits, sp, v);
            }
            case 'f', 'F', 'e', 'E', 'g', 'G', '%' -> {
                if (!Py.isNumber(v)) throw error("must be real number, not " + Py.typeName(v));
                double d = Py.asDouble(v);
                String s = t == '%' ? floatFormat(d * 100, 'f', sp.precision() < 0 ? 6 : sp.precision(), sp.alt()) + "%"
                        : floatFormat(d, t, sp.precision() < 0 ? 6 : sp.precision(), sp.alt());
                return number(in, s, sp, v);
            }
            case 'c' -> {
                body = v instanceof Str s ? s.value() : new String(Character.toChars((int) Py.asLong(v)));
                return pad(in, body, sp);
            }
            default -> throw error("unsupported format character '" + t + "'");
        }
    }

    private static String number(Interpreter in, String s, Spec sp, Value v) {
        boolean neg = s.startsWith("-");
        String digits = neg ? s.substring(1) : s;
        if (sp.grouping() && digits.chars().allMatch(Character::isDigit)) {
            StringBuilder g = new StringBuilder();
            for (int i = 0; i < digits.length(); i++) {
                if (i > 0 && (digits.length() - i) % 3 == 0) g.append(',');
                g.append(digits.charAt(i));
            }
            digits = g.toString();
        }
        String sign = neg ? "-" : sp.sign() == '+' ? "+" : sp.sign() == ' ' ? " " : "";
        if (sp.align() == '=' || (sp.zero() && sp.align() == '>' && sp.fill() == '0')) {
            long padLen = sp.width() - sign.length() - digits.length();
            if (padLen > 0) {
                in.charge(padLen);
                return sign + String.valueOf(sp.fill()).repeat((int) padLen) + digits;
            }
            return sign + digits;
        }
        return pad(in, sign + digits, sp);
    }

    private static String pad(Interpreter in, String s, Spec sp) {
        char align = sp.align() == '=' ? '>' : sp.align();
        return PyStr.pad(in, s, sp.width(), String.valueOf(sp.fill()), align);
    }

    /** C/Python float formatting ('f', 'e', 'g'), correctly rounded (half-even on the exact binary value). */
    static String floatFormat(double d, char type, int precision, boolean alt) {
        if (Double.isNaN(d)) return Character.isUpperCase(type) ? "NAN" : "nan";
        if (Double.isInfinite(d)) return (d < 0 ? "-" : "") + (Character.isUpperCase(type) ? "INF" : "inf");
        boolean neg = d < 0 || (d == 0 && 1 / d < 0);
        BigDecimal x = new BigDecimal(Math.abs(d));
        String body;
        switch (Character.toLowerCase(type)) {
            case 'f' -> body = x.setScale(precision, RoundingMode.HALF_EVEN).toPlainString() + (alt && precision == 0 ? "." : "");
            case 'e' -> body = exp(x, precision, alt);
            default -> {
                int p = precision == 0 ? 1 : precision;
                int e;
                if (x.signum() == 0) e = 0;
                else {
                    BigDecimal r = x.round(new MathContext(p, RoundingMode.HALF_EVEN));
                    e = r.precision() - r.scale() - 1;
                }
                if (e >= -4 && e < p) {
                    body = x.setScale(p - 1 - e, RoundingMode.HALF_EVEN).toPlainString();
                } else {
                    body = exp(x, p - 1, alt);
                }
                if (!alt) body = stripZeros(body);
            }
        }
        if (Character.isUpperCase(type)) body = body.toUpperCase();
        return neg ? "-" + body : body;
    }

    private static String exp(BigDecimal x, int precision, boolean alt) {
        String digits;
        int e;
        if (x.signum() == 0) {
            digits = "0".repeat(precision + 1);
            e = 0;
        } else {
            BigDecimal r = x.round(new MathContext(precision + 1, RoundingMode.HALF_EVEN));
            digits = r.unscaledValue().toString();
            e = r.precision() - r.scale() - 1;
            while (digits.length() < precision + 1) digits += "0";
            digits = digits.substring(0, precision + 1);
        }
        StringBuilder sb = new StringBuilder().append(digits.charAt(0));
        if (precision > 0 || alt) sb.append('.');
        sb.append(digits, 1, digits.length());
        sb.append('e').append(e < 0 ? '-' : '+');
        if (Math.abs(e) < 10) sb.append('0');
        return sb.append(Math.abs(e)).toString();
    }

    private static String stripZeros(String s) {
        int e = s.indexOf('e');
        String mant = e < 0 ? s : s.substring(0, e);
        String rest = e < 0 ? "" : s.substring(e);
        if (mant.indexOf('.') >= 0) {
            mant = mant.replaceAll("0+$", "");
            if (mant.endsWith(".")) mant = mant.substring(0, mant.length() - 1);
        }
        return mant + rest;
    }
}
