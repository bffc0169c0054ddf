package io.sluice.template;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Jinja2's lexer with Hugging Face's settings (trim_blocks and lstrip_blocks on, keep_trailing_newline
 * off): template text, {{ }} / {% %} / {# #} tags with -/+ whitespace control, raw blocks, and the
 * tokens inside tags. Newlines in the source are normalised to \n, as Jinja does.
 */
final class Lexer {
    enum Kind { DATA, VAR_BEGIN, VAR_END, BLOCK_BEGIN, BLOCK_END, NAME, STRING, INT, FLOAT, OP, EOF }

    record Tok(Kind kind, String text, Object value, int line) {
        boolean isName(String t) {
            return kind == Kind.NAME && text.equals(t);
        }

        boolean isOp(String t) {
            return kind == Kind.OP && text.equals(t);
        }
    }

    private static final Pattern FLOAT = Pattern.compile(
            "(?<!\\.)(\\d+_)*\\d+((\\.(\\d+_)*\\d+)?[eE][+\\-]?(\\d+_)*\\d+|\\.(\\d+_)*\\d+)");
    private static final Pattern INTEGER = Pattern.compile(
            "0[bB](_?[01])+|0[oO](_?[0-7])+|0[xX](_?[0-9a-fA-F])+|[1-9](_?\\d)*|0(_?0)*");
    private static final Pattern NAME = Pattern.compile("[\\w&&[^\\d]]\\w*", Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern RAW_BEGIN = Pattern.compile("\\{%([-+]?)\\s*raw\\s*(-%}\\s*|%})", Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern RAW_END = Pattern.compile("\\{%([-+]?)\\s*endraw\\s*(\\+%}|-%}\\s*|%}\\n?)", Pattern.UNICODE_CHARACTER_CLASS);
    private static final String[] OPERATORS = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")",
            "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"};

    private final String src;
    private final List<Tok> out = new ArrayList<>();
    private int pos;
    private int line = 1;
    private int lineCountedTo;
    private boolean lineStarting = true;

    private Lexer(String src) {
        this.src = src;
    }

    static List<Tok> tokenize(String source) {
        Lexer lx = new Lexer(normalize(source));
        lx.run();
        return lx.out;
    }

    /** \r\n and \r become \n; one trailing newline is dropped (Jinja's keep_trailing_newline=False). */
    static String normalize(String s) {
        String n = s.indexOf('\r') < 0 ? s : s.replace("\r\n", "\n").replace('\r', '\n');
        return n.endsWith("\n") ? n.substring(0, n.length() - 1) : n;
    }

    private TemplateSyntaxException error(String message) {
        return new TemplateSyntaxException(message, lineAt(pos));
    }

    private int lineAt(int p) {
        if (p < lineCountedTo) { // rare: recount from the start
            line = 1;
            lineCountedTo = 0;
        }
        for (int i = lineCountedTo; i < p && i < src.length(); i++) if (src.charAt(i) == '\n') line++;
        lineCountedTo = Math.max(lineCountedTo, Math.min(p, src.length()));
        return line;
    }

    private void emit(Kind k, String text, Object value, int at) {
        out.add(new Tok(k, text, value, lineAt(at)));
    }

    private void run() {
        int n = src.length();
        while (pos < n) {
            int start = nextTag(pos);
            if (start < 0) {
                emit(Kind.DATA, src.substring(pos), null, pos);
                break;
            }
            char kind = src.charAt(start + 1);
            char sign = start + 2 < n && (src.charAt(start + 2) == '-' || src.charAt(start + 2) == '+') ? src.charAt(start + 2) : 0;
            Matcher raw = kind == '%' ? RAW_BEGIN.matcher(src).region(start, n) : null;
            boolean isRaw = raw != null && raw.lookingAt();
            String text = controlWhitespace(src.substring(pos, start), sign, kind != '{');
            if (!text.isEmpty()) emit(Kind.DATA, text, null, pos);
            if (isRaw) {
                rawBlock(raw.end());
            } else if (kind == '#') {
                comment(start + 2 + (sign != 0 ? 1 : 0));
            } else {
                tag(start, kind == '{', start + 2 + (sign != 0 ? 1 : 0));
            }
        }
        emit(Kind.EOF, "", null, n);
    }

    private int nextTag(int from) {
        for (int i = src.indexOf('{', from); i >= 0 && i + 1 < src.length(); i = src.indexOf('{', i + 1)) {
            char c = src.charAt(i + 1);
            if (c == '{' || c == '%' || c == '#') return i;
        }
        return -1;
    }

    /**
     * The text before a tag after the tag's whitespace control: '-' strips all trailing whitespace;
     * otherwise (unless '+') lstrip_blocks removes spaces/tabs between a line start and a block or comment tag.
     */
    private String controlWhitespace(String text, char sign, boolean lstripApplies) {
        if (sign == '-') return PyStr.strip(text, null, false, true);
        if (sign != '+' && lstripApplies) {
            int l = text.lastIndexOf('\n') + 1;
            if ((l > 0 || lineStarting) && l < text.length()) {
                boolean blank = true;
                for (int i = l; i < text.length() && blank; i++) blank = PyStr.isSpace(text.charAt(i));
                if (blank) return text.substring(0, l);
            }
        }
        return text;
    }

    private void comment(int from) {
        int end = src.indexOf("#}", from);
        if (end < 0) {
            pos = from;
            throw error("Missing end of comment tag");
        }
        char sign = end > from && (src.charAt(end - 1) == '-' || src.charAt(end - 1) == '+') ? src.charAt(end - 1) : 0;
        afterEnd(end + 2, sign, true);
    }

    /** Moves past an end tag: '-' eats following whitespace, '+' nothing, plain eats one newline if trimming applies. */
    private void afterEnd(int p, char sign, boolean trim) {
        if (sign == '-') {
            while (p < src.length() && PyStr.isSpace(src.charAt(p))) p++;
        } else if (sign != '+' && trim && p < src.length() && src.charAt(p) == '\n') {
            p++;
        }
        lineStarting = p > 0 && src.charAt(p - 1) == '\n';
        pos = p;
    }

    private void rawBlock(int from) {
        pos = from;
        lineStarting = from > 0 && src.charAt(from - 1) == '\n';
        Matcher m = RAW_END.matcher(src);
        int at = from;
        while (true) {
            int cand = src.indexOf("{%", at);
            if (cand < 0) throw error("Missing end of raw directive");
            m.region(cand, src.length());
            if (m.lookingAt()) break;
            at = cand + 1;
        }
        String sign = m.group(1);
        String text = controlWhitespace(src.substring(from, m.start()), sign.isEmpty() ? 0 : sign.charAt(0), true);
        if (!text.isEmpty()) emit(Kind.DATA, text, null, from);
        pos = m.end();
        lineStarting = pos > 0 && src.charAt(pos - 1) == '\n';
    }

    private void tag(int start, boolean variable, int p) {
        emit(variable ? Kind.VAR_BEGIN : Kind.BLOCK_BEGIN, variable ? "{{" : "{%", null, start);
        List<Character> balance = new ArrayList<>();
        int n = src.length();
        while (true) {
            if (p >= n) {
                pos = p;
                throw error("unexpected end of template inside a " + (variable ? "{{ }}" : "{% %}") + " tag");
            }
            if (balance.isEmpty()) {
                if (variable) {
                    if (src.startsWith("-}}", p)) {
                        emit(Kind.VAR_END, "}}", null, p);
                        afterEnd(p + 3, '-', false);
                        return;
                    }
                    if (src.startsWith("}}", p)) {
                        emit(Kind.VAR_END, "}}", null, p);
                        afterEnd(p + 2, '+', false);
                        return;
                    }
                } else {
                    if (src.startsWith("+%}", p) || src.startsWith("-%}", p)) {
                        emit(Kind.BLOCK_END, "%}", null, p);
                        afterEnd(p + 3, src.charAt(p), true);
                        return;
                    }
                    if (src.startsWith("%}", p)) {
                        emit(Kind.BLOCK_END, "%}", null, p);
                        afterEnd(p + 2, (char) 0, true);
                        return;
                    }
                }
            }
            char c = src.charAt(p);
            if (PyStr.isSpace(c)) {
                p++;
                continue;
            }
            Matcher m;
            if (Character.isDigit(c)) {
                m = FLOAT.matcher(src).region(p, n).useTransparentBounds(true);
                if (m.lookingAt()) {
                    String t = m.group();
                    emit(Kind.FLOAT, t, Double.parseDouble(t.replace("_", "")), p);
                    p = m.end();
                    continue;
                }
                m = INTEGER.matcher(src).region(p, n);
                if (m.lookingAt()) {
                    String t = m.group();
                    emit(Kind.INT, t, parseInt(t, p), p);
                    p = m.end();
                    continue;
                }
            }
            if (c == '\'' || c == '"') {
                p = string(p);
                continue;
            }
            m = NAME.matcher(src).region(p, n);
            if (m.lookingAt()) {
                emit(Kind.NAME, m.group(), null, p);
                p = m.end();
                continue;
            }
            String op = null;
            for (String o : OPERATORS) {
                if (src.startsWith(o, p)) {
                    op = o;
                    break;
                }
            }
            if (op == null) {
                pos = p;
                throw error("unexpected char '" + c + "' at " + p);
            }
            switch (op) {
                case "{" -> balance.add('}');
                case "(" -> balance.add(')');
                case "[" -> balance.add(']');
                case "}", ")", "]" -> {
                    if (balance.isEmpty()) {
                        pos = p;
                        throw error("unexpected '" + op + "'");
                    }
                    char want = balance.removeLast();
                    if (want != op.charAt(0)) {
                        pos = p;
                        throw error("unexpected '" + op + "', expected '" + want + "'");
                    }
                }
                default -> {
                }
            }
            emit(Kind.OP, op, null, p);
            p += op.length();
        }
    }

    private long parseInt(String t, int at) {
        String s = t.replace("_", "");
        int radix = 10;
        if (s.length() > 1 && s.charAt(0) == '0' && Character.isLetter(s.charAt(1))) {
            radix = switch (Character.toLowerCase(s.charAt(1))) {
                case 'b' -> 2;
                case 'o' -> 8;
                default -> 16;
            };
            s = s.substring(2);
        }
        try {
            return Long.parseLong(s, radix);
        } catch (NumberFormatException e) {
            pos = at;
            throw error("integer literal too large for 64 bits: " + t);
        }
    }

    /** A quoted literal with Python's escapes (as Jinja decodes them: unicode-escape). */
    private int string(int p) {
        char q = src.charAt(p);
        StringBuilder sb = new StringBuilder();
        int i = p + 1, n = src.length();
        while (true) {
            if (i >= n) {
                pos = p;
                throw error("unterminated string literal");
            }
            char c = src.charAt(i);
            if (c == q) break;
            if (c != '\\') {
                sb.append(c);
                i++;
                continue;
            }
            if (i + 1 >= n) {
                pos = p;
                throw error("unterminated string literal");
            }
            char e = src.charAt(i + 1);
            i += 2;
            switch (e) {
                case '\n' -> {
                }
                case '\\', '\'', '"' -> sb.append(e);
                case 'a' -> sb.append('\u0007');
                case 'b' -> sb.append('\b');
                case 'f' -> sb.append('\f');
                case 'n' -> sb.append('\n');
                case 'r' -> sb.append('\r');
                case 't' -> sb.append('\t');
                case 'v' -> sb.append('\u000b');
                case 'x', 'u', 'U' -> {
                    int len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    if (i + len > n || !src.substring(i, i + len).chars().allMatch(ch -> Character.digit(ch, 16) >= 0)) {
                        pos = p;
                        throw error("truncated \\" + e + " escape in string literal");
                    }
                    int cp = (int) Long.parseLong(src.substring(i, i + len), 16);
                    if (!Character.isValidCodePoint(cp)) {
                        pos = p;
                        throw error("illegal Unicode character in string literal");
                    }
                    sb.appendCodePoint(cp);
                    i += len;
                }
                case 'N' -> {
                    int close = src.indexOf('}', i);
                    if (i >= n || src.charAt(i) != '{' || close < 0) {
                        pos = p;
                        throw error("malformed \\N character escape");
                    }
                    try {
                        sb.appendCodePoint(Character.codePointOf(src.substring(i + 1, close)));
                    } catch (IllegalArgumentException ex) {
                        pos = p;
                        throw error("unknown Unicode character name");
                    }
                    i = close + 1;
                }
                default -> {
                    if (e >= '0' && e <= '7') {
                        int v = e - '0', k = 0;
                        while (k < 2 && i < n && src.charAt(i) >= '0' && src.charAt(i) <= '7') {
                            v = v * 8 + src.charAt(i++) - '0';
                            k++;
                        }
                        sb.append((char) v);
                    } else {
                        sb.append('\\').append(e);
                    }
                }
            }
        }
        emit(Kind.STRING, src.substring(p, i + 1), sb.toString(), p);
        return i + 1;
    }
}
