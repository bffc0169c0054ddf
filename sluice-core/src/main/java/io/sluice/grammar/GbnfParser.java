package io.sluice.grammar;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads llama.cpp's GBNF: {@code name ::= alternatives} rules; literals {@code "..."}, classes
 * {@code [a-z]} / {@code [^...]} with llama.cpp's backslash escapes (x, u and U with hex digits; t, r, n;
 * a backslash, quote or bracket), {@code .} (any
 * character), groups, {@code * + ? {m} {m,} {m,n}}, tokens {@code <[id]>} / {@code <text>} and their
 * negations {@code !<...>}, {@code #} comments. A newline ends a rule except inside parentheses or
 * after {@code |}. Errors say where (line:column) and what was expected.
 */
final class GbnfParser {
    /** llama.cpp's limit on one repetition count. */
    static final int MAX_REPETITION = 2000;

    private final String src;
    private int pos;
    private final Map<String, Expr> rules = new LinkedHashMap<>();
    private final Map<String, Integer> referencedAt = new LinkedHashMap<>();

    private GbnfParser(String src) {
        this.src = src;
    }

    static Grammar parse(String text) {
        if (text == null) throw new GrammarException("the grammar is null");
        GbnfParser p = new GbnfParser(text);
        p.parseAll();
        return new Grammar(p.rules);
    }

    private void parseAll() {
        skipSpace(true);
        while (pos < src.length()) {
            parseRule();
        }
        for (Map.Entry<String, Integer> ref : referencedAt.entrySet()) {
            if (!rules.containsKey(ref.getKey())) {
                throw new GrammarException("undefined rule '" + ref.getKey() + "' (used at " + where(ref.getValue()) + ")");
            }
        }
        if (!rules.containsKey(Grammar.ROOT)) throw new GrammarException("the grammar has no 'root' rule");
    }

    private void parseRule() {
        int start = pos;
        String name = parseName();
        skipSpace(false);
        if (!src.startsWith("::=", pos)) throw error("expecting ::= after rule name '" + name + "'");
        pos += 3;
        skipSpace(true);
        Expr body = parseAlternates(false);
        if (rules.containsKey(name)) throw new GrammarException("rule '" + name + "' is defined twice (again at " + where(start) + ")");
        rules.put(name, body);
        if (pos < src.length()) {
            char c = src.charAt(pos);
            if (c == '\r') pos += src.startsWith("\r\n", pos) ? 2 : 1;
            else if (c == '\n') pos++;
            else throw error("expecting newline or end of grammar");
        }
        skipSpace(true);
    }

    private Expr parseAlternates(boolean nested) {
        List<Expr> options = new ArrayList<>();
        options.add(parseSequence(nested));
        while (pos < src.length() && src.charAt(pos) == '|') {
            pos++;
            skipSpace(true);
            options.add(parseSequence(nested));
        }
        return options.size() == 1 ? options.getFirst() : new Expr.Alt(List.copyOf(options));
    }

    private Expr parseSequence(boolean nested) {
        List<Expr> items = new ArrayList<>();
        while (pos < src.length()) {
            char c = src.charAt(pos);
            if (c == '"') {
                pos++;
                items.add(parseLiteral());
            } else if (c == '[') {
                pos++;
                items.add(parseClass());
            } else if (c == '<' || c == '!') {
                items.add(parseToken());
            } else if (isWordChar(c)) {
                int at = pos;
                String name = parseName();
                referencedAt.putIfAbsent(name, at);
                items.add(new Expr.Ref(name));
            } else if (c == '(') {
                pos++;
                skipSpace(true);
                Expr inner = parseAlternates(true);
                if (pos >= src.length() || src.charAt(pos) != ')') throw error("expecting ')'");
                pos++;
                items.add(inner);
            } else if (c == '.') {
                pos++;
                items.add(Expr.CharClass.any());
            } else if (c == '*' || c == '+' || c == '?') {
                pos++;
                int min = c == '+' ? 1 : 0, max = c == '?' ? 1 : -1;
                repeatLast(items, min, max);
            } else if (c == '{') {
                pos++;
                skipSpace(nested);
                int min = parseInt(MAX_REPETITION, "repetition count");
                skipSpace(nested);
                int max;
                if (pos < src.length() && src.charAt(pos) == '}') {
                    max = min;
                } else if (pos < src.length() && src.charAt(pos) == ',') {
                    pos++;
                    skipSpace(nested);
                    max = pos < src.length() && isDigit(src.charAt(pos)) ? parseInt(MAX_REPETITION, "repetition count") : -1;
                    skipSpace(nested);
                    if (pos >= src.length() || src.charAt(pos) != '}') throw error("expecting '}'");
                } else {
                    throw error("expecting ',' or '}' in a repetition");
                }
                pos++;
                if (max != -1 && max < min) throw error("repetition {" + min + "," + max + "} has max < min");
                repeatLast(items, min, max);
            } else {
                break;
            }
            skipSpace(nested);
        }
        return items.size() == 1 ? items.getFirst() : new Expr.Seq(List.copyOf(items));
    }

    private void repeatLast(List<Expr> items, int min, int max) {
        if (items.isEmpty()) throw error("expecting an item before a repetition operator");
        items.set(items.size() - 1, new Expr.Repeat(items.getLast(), min, max));
    }

    private Expr parseLiteral() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        while (true) {
            if (pos >= src.length()) throw error("unterminated string literal");
            if (src.charAt(pos) == '"') {
                pos++;
                break;
            }
            int cp = parseChar();
            bytes.writeBytes(new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8));
        }
        return new Expr.Literal(bytes.toByteArray());
    }

    private Expr parseClass() {
        boolean negated = false;
        if (pos < src.length() && src.charAt(pos) == '^') {
            negated = true;
            pos++;
        }
        List<Integer> pairs = new ArrayList<>();
        while (true) {
            if (pos >= src.length()) throw error("unterminated character class");
            if (src.charAt(pos) == ']') {
                pos++;
                break;
            }
            int lo = parseChar(), hi = lo;
            if (pos + 1 < src.length() && src.charAt(pos) == '-' && src.charAt(pos + 1) != ']') {
                pos++;
                hi = parseChar();
                if (hi < lo) throw error("character range is reversed");
            }
            pairs.add(lo);
            pairs.add(hi);
        }
        int[] r = pairs.stream().mapToInt(Integer::intValue).toArray();
        return Expr.CharClass.of(r, negated);
    }

    private Expr parseToken() {
        boolean negated = false;
        if (src.charAt(pos) == '!') {
            negated = true;
            pos++;
        }
        if (pos >= src.length() || src.charAt(pos) != '<') throw error("expecting '<' after '!'");
        pos++;
        if (pos < src.length() && src.charAt(pos) == '[') {
            pos++;
            int id = parseInt(999_999_999, "token id");
            if (pos + 1 >= src.length() || src.charAt(pos) != ']' || src.charAt(pos + 1) != '>') throw error("expecting ']>' after a token id");
            pos += 2;
            return new Expr.Token(id, null, negated);
        }
        int end = src.indexOf('>', pos);
        if (end < 0) throw error("unterminated token: expecting '>'");
        String text = "<" + src.substring(pos, end + 1);
        pos = end + 1;
        return new Expr.Token(-1, text, negated);
    }

    private int parseChar() {
        char c = src.charAt(pos);
        if (c != '\\') {
            int cp = src.codePointAt(pos);
            pos += Character.charCount(cp);
            return cp;
        }
        if (pos + 1 >= src.length()) throw error("unexpected end of grammar after '\\'");
        char e = src.charAt(pos + 1);
        pos += 2;
        return switch (e) {
            case 'x' -> hex(2);
            case 'u' -> hex(4);
            case 'U' -> hex(8);
            case 't' -> '\t';
            case 'r' -> '\r';
            case 'n' -> '\n';
            case '\\', '"', '[', ']' -> e;
            default -> {
                pos -= 2;
                throw error("unknown escape '\\" + e + "'");
            }
        };
    }

    private int hex(int digits) {
        if (pos + digits > src.length()) throw error("expecting " + digits + " hex digits");
        long v = 0;
        for (int i = 0; i < digits; i++) {
            int d = Character.digit(src.charAt(pos + i), 16);
            if (d < 0) throw error("expecting " + digits + " hex digits");
            v = v * 16 + d;
        }
        pos += digits;
        if (v > Expr.CharClass.MAX_CODE_POINT) throw error("code point U+" + Long.toHexString(v).toUpperCase() + " is beyond U+10FFFF");
        if (v >= 0xD800 && v <= 0xDFFF) throw error("code point U+" + Long.toHexString(v).toUpperCase() + " is a surrogate, which UTF-8 cannot encode");
        return (int) v;
    }

    /** A decimal integer up to max (repetition counts are capped like llama.cpp's; token ids by the int range). */
    private int parseInt(int max, String what) {
        int start = pos;
        while (pos < src.length() && isDigit(src.charAt(pos))) pos++;
        if (pos == start) throw error("expecting an integer");
        String digits = src.substring(start, pos);
        if (digits.length() > 9 || Integer.parseInt(digits) > max) {
            pos = start;
            throw error(what + " " + digits + " is too large (at most " + max + ")");
        }
        return Integer.parseInt(digits);
    }

    private String parseName() {
        int start = pos;
        while (pos < src.length() && isWordChar(src.charAt(pos))) pos++;
        if (pos == start) throw error("expecting a rule name");
        return src.substring(start, pos);
    }

    private void skipSpace(boolean newlineOk) {
        while (pos < src.length()) {
            char c = src.charAt(pos);
            if (c == ' ' || c == '\t' || (newlineOk && (c == '\r' || c == '\n'))) {
                pos++;
            } else if (c == '#') {
                while (pos < src.length() && src.charAt(pos) != '\r' && src.charAt(pos) != '\n') pos++;
            } else {
                return;
            }
        }
    }

    private static boolean isWordChar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || isDigit(c);
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private GrammarException error(String what) {
        String near = src.substring(pos, Math.min(src.length(), pos + 20)).replace("\n", "\\n");
        return new GrammarException("grammar error at " + where(pos) + ": " + what + (near.isEmpty() ? " (at end)" : " (near '" + near + "')"));
    }

    private String where(int at) {
        int line = 1, col = 1;
        for (int i = 0; i < at && i < src.length(); i++) {
            if (src.charAt(i) == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        return "line " + line + ", column " + col;
    }
}
