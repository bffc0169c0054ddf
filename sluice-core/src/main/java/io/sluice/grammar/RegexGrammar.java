package io.sluice.grammar;

import java.util.ArrayList;
import java.util.List;

/**
 * A JSON Schema {@code pattern} (ECMA-262 syntax) as a GBNF expression over the characters inside
 * a JSON string, written as JSON spells them ({@code "} as {@code \"}, a newline as {@code \n}).
 * Supported: literals and escapes, classes and ranges (negated too), {@code \d \w \s} and their
 * negations, {@code .}, groups (capturing, {@code (?:)}, named), alternation, every quantifier (lazy
 * ones match the same strings), {@code ^} and {@code $} at the ends. A pattern matches anywhere in a
 * string, so text that matches it whole always validates. Lookaround, back-references and word
 * boundaries are refused with a message naming them.
 *
 * <p>Where JSON would need an escape, negated classes and {@code .} leave those characters out
 * (a smaller language, still only valid strings); classes that name them explicitly keep them.
 */
final class RegexGrammar {
    /** Characters a JSON string holds unescaped (also leaving out DEL, as llama.cpp does). */
    private static final int[] SAFE = Expr.CharClass.of(new int[]{'"', '"', '\\', '\\', 0, 0x1F, 0x7F, 0x7F}, true).ranges();

    private final String src;
    private int pos;

    private RegexGrammar(String src) {
        this.src = src;
    }

    /** The GBNF expression; a GrammarException names what is not supported. */
    static String toGbnf(String pattern) {
        RegexGrammar r = new RegexGrammar(pattern);
        String e = r.alternation(true);
        if (r.pos < pattern.length()) throw r.error("unbalanced ')'");
        return e;
    }

    private String alternation(boolean top) {
        List<String> options = new ArrayList<>();
        options.add(sequence(top));
        while (pos < src.length() && src.charAt(pos) == '|') {
            pos++;
            options.add(sequence(top));
        }
        return options.size() == 1 ? options.getFirst() : "(" + String.join(" | ", options) + ")";
    }

    private String sequence(boolean top) {
        List<String> items = new ArrayList<>();
        if (top && pos < src.length() && src.charAt(pos) == '^') pos++;
        while (pos < src.length()) {
            char c = src.charAt(pos);
            if (c == '|' || c == ')') break;
            if (c == '$') {
                pos++;
                boolean atEnd = pos == src.length() || src.charAt(pos) == '|';
                if (!top || !atEnd) throw error("'$' is only supported at the end of the pattern");
                break;
            }
            if (c == '^') throw error("'^' is only supported at the start of the pattern");
            String atom = atom();
            items.add(quantified(atom));
        }
        return items.isEmpty() ? "\"\"" : items.size() == 1 ? items.getFirst() : "(" + String.join(" ", items) + ")";
    }

    private String quantified(String atom) {
        if (pos >= src.length()) return atom;
        char c = src.charAt(pos);
        String q;
        if (c == '*' || c == '+' || c == '?') {
            pos++;
            q = String.valueOf(c);
        } else if (c == '{' && isQuantifier()) {
            int end = src.indexOf('}', pos);
            String body = src.substring(pos + 1, end);
            pos = end + 1;
            String[] parts = body.split(",", -1);
            int min = count(parts[0]);
            if (parts.length == 1) q = "{" + min + "}";
            else if (parts[1].isEmpty()) q = "{" + min + ",}";
            else {
                int max = count(parts[1]);
                if (max < min) throw error("quantifier {" + body + "} has max < min");
                q = "{" + min + "," + max + "}";
            }
        } else {
            return atom;
        }
        if (pos < src.length() && src.charAt(pos) == '?') pos++; // lazy: same strings
        if (pos < src.length() && (src.charAt(pos) == '*' || src.charAt(pos) == '+' || src.charAt(pos) == '?' || src.charAt(pos) == '{' && isQuantifier())) {
            throw error("a quantifier after a quantifier");
        }
        return "(" + atom + ")" + q;
    }

    private boolean isQuantifier() {
        int end = src.indexOf('}', pos);
        return end > pos + 1 && src.substring(pos + 1, end).matches("\\d+(,\\d*)?");
    }

    private int count(String digits) {
        if (digits.length() > 4 || Integer.parseInt(digits) > GbnfParser.MAX_REPETITION) {
            throw error("repetition count " + digits + " is too large (at most " + GbnfParser.MAX_REPETITION + ")");
        }
        return Integer.parseInt(digits);
    }

    private String atom() {
        char c = src.charAt(pos);
        switch (c) {
            case '(' -> {
                pos++;
                if (src.startsWith("?:", pos)) pos += 2;
                else if (src.startsWith("?<", pos) && pos + 2 < src.length() && src.charAt(pos + 2) != '=' && src.charAt(pos + 2) != '!') {
                    int end = src.indexOf('>', pos);
                    if (end < 0) throw error("unterminated group name");
                    pos = end + 1;
                } else if (src.startsWith("?", pos)) {
                    throw error("lookahead, lookbehind and other '(?' groups are not supported");
                }
                String inner = alternation(false);
                if (pos >= src.length() || src.charAt(pos) != ')') throw error("missing ')'");
                pos++;
                return inner;
            }
            case '[' -> {
                pos++;
                return charClass();
            }
            case '.' -> {
                pos++;
                int[] notLineBreak = Expr.CharClass.of(new int[]{'\n', '\n', '\r', '\r', 0x2028, 0x2029}, true).ranges();
                return klass(intersect(notLineBreak, SAFE), false);
            }
            case '\\' -> {
                int[] set = escape(false);
                return klass(set, true);
            }
            case '*', '+', '?' -> throw error("nothing to repeat");
            case '{' -> {
                if (isQuantifier()) throw error("nothing to repeat");
                pos++;
                return jsonChar('{');
            }
            default -> {
                int cp = src.codePointAt(pos);
                pos += Character.charCount(cp);
                return jsonChar(cp);
            }
        }
    }

    private String charClass() {
        boolean negated = false;
        if (pos < src.length() && src.charAt(pos) == '^') {
            negated = true;
            pos++;
        }
        List<Integer> pairs = new ArrayList<>();
        boolean first = true;
        while (true) {
            if (pos >= src.length()) throw error("unterminated character class");
            char c = src.charAt(pos);
            if (c == ']' && !first) {
                pos++;
                break;
            }
            first = false;
            int[] lo;
            if (c == '\\') {
                lo = escape(true);
            } else {
                int cp = src.codePointAt(pos);
                pos += Character.charCount(cp);
                lo = new int[]{cp, cp};
            }
            if (lo.length == 2 && lo[0] == lo[1] && pos + 1 < src.length() && src.charAt(pos) == '-' && src.charAt(pos + 1) != ']') {
                pos++;
                int hi;
                if (src.charAt(pos) == '\\') {
                    int[] h = escape(true);
                    if (h.length != 2 || h[0] != h[1]) throw error("a class escape cannot end a range");
                    hi = h[0];
                } else {
                    hi = src.codePointAt(pos);
                    pos += Character.charCount(hi);
                }
                if (hi < lo[0]) throw error("character range is out of order");
                pairs.add(lo[0]);
                pairs.add(hi);
            } else {
                for (int v : lo) pairs.add(v);
            }
        }
        int[] r = pairs.stream().mapToInt(Integer::intValue).toArray();
        int[] set = Expr.CharClass.of(r, negated).ranges();
        // A negated class leaves out what JSON must escape; a positive one keeps what it names.
        return klass(negated ? intersect(set, SAFE) : set, !negated);
    }

    /** The code point set of an escape: a single character as {cp, cp}. */
    private int[] escape(boolean inClass) {
        pos++; // the backslash
        if (pos >= src.length()) throw error("pattern ends with '\\'");
        char e = src.charAt(pos++);
        return switch (e) {
            case 'd' -> new int[]{'0', '9'};
            case 'D' -> Expr.CharClass.of(new int[]{'0', '9'}, true).ranges();
            case 'w' -> Expr.CharClass.of(new int[]{'0', '9', 'A', 'Z', '_', '_', 'a', 'z'}, false).ranges();
            case 'W' -> Expr.CharClass.of(new int[]{'0', '9', 'A', 'Z', '_', '_', 'a', 'z'}, true).ranges();
            case 's' -> Expr.CharClass.of(new int[]{' ', ' ', '\t', '\r', 0xA0, 0xA0, 0xFEFF, 0xFEFF, 0x2028, 0x2029}, false).ranges();
            case 'S' -> Expr.CharClass.of(new int[]{' ', ' ', '\t', '\r', 0xA0, 0xA0, 0xFEFF, 0xFEFF, 0x2028, 0x2029}, true).ranges();
            case 'n' -> one('\n');
            case 't' -> one('\t');
            case 'r' -> one('\r');
            case 'f' -> one('\f');
            case 'v' -> one(0x0B);
            case '0' -> one(0);
            case 'x' -> one(hex(2));
            case 'u' -> {
                if (pos < src.length() && src.charAt(pos) == '{') {
                    int end = src.indexOf('}', pos);
                    if (end < 0) throw error("unterminated \\u{...}");
                    String h = src.substring(pos + 1, end);
                    pos = end + 1;
                    try {
                        yield one(Integer.parseInt(h, 16));
                    } catch (NumberFormatException ex) {
                        throw error("bad \\u{...} escape");
                    }
                }
                yield one(hex(4));
            }
            case 'b' -> {
                if (inClass) yield one(8);
                throw error("word boundaries (\\b) are not supported");
            }
            case 'B' -> throw error("word boundaries (\\B) are not supported");
            case 'p', 'P' -> throw error("Unicode property escapes (\\" + e + ") are not supported");
            case 'k' -> throw error("named back-references are not supported");
            default -> {
                if (e >= '1' && e <= '9') throw error("back-references are not supported");
                if (Character.isLetterOrDigit(e)) throw error("unknown escape '\\" + e + "'");
                yield one(e);
            }
        };
    }

    private static int[] one(int cp) {
        return new int[]{cp, cp};
    }

    private int hex(int digits) {
        if (pos + digits > src.length()) throw error("expecting " + digits + " hex digits");
        try {
            int v = Integer.parseInt(src.substring(pos, pos + digits), 16);
            pos += digits;
            return v;
        } catch (NumberFormatException e) {
            throw error("expecting " + digits + " hex digits");
        }
    }

    /**
     * The set as JSON string content: characters that are fine unescaped as one GBNF class, plus,
     * when withEscapes, the escaped spellings of the quote, backslash and control characters it holds.
     */
    private String klass(int[] set, boolean withEscapes) {
        List<String> options = new ArrayList<>();
        int[] plain = intersect(set, SAFE);
        if (plain.length > 0) options.add(GbnfText.charClass(plain));
        if (withEscapes) {
            for (int i = 0; i < set.length; i += 2) {
                for (int cp = set[i]; cp <= set[i + 1] && cp <= 0x7F; cp++) {
                    if (cp < 0x20 || cp == '"' || cp == '\\' || cp == 0x7F) options.add(GbnfText.literal(jsonEscape(cp)));
                }
            }
        }
        if (options.isEmpty()) throw error("a character set that no JSON string character can match");
        return options.size() == 1 ? options.getFirst() : "(" + String.join(" | ", options) + ")";
    }

    private static String jsonChar(int cp) {
        if (cp < 0x20 || cp == '"' || cp == '\\' || cp == 0x7F) return GbnfText.literal(jsonEscape(cp));
        return GbnfText.literal(new String(Character.toChars(cp)));
    }

    private static String jsonEscape(int cp) {
        return switch (cp) {
            case '"' -> "\\\"";
            case '\\' -> "\\\\";
            case '\n' -> "\\n";
            case '\t' -> "\\t";
            case '\r' -> "\\r";
            case '\b' -> "\\b";
            case '\f' -> "\\f";
            default -> String.format("\\u%04x", cp);
        };
    }

    static int[] intersect(int[] a, int[] b) {
        List<Integer> out = new ArrayList<>();
        int i = 0, j = 0;
        while (i < a.length && j < b.length) {
            int lo = Math.max(a[i], b[j]), hi = Math.min(a[i + 1], b[j + 1]);
            if (lo <= hi) {
                out.add(lo);
                out.add(hi);
            }
            if (a[i + 1] < b[j + 1]) i += 2;
            else j += 2;
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    private GrammarException error(String what) {
        return new GrammarException("pattern \"" + src + "\": " + what + " (at offset " + Math.min(pos, src.length()) + ")");
    }
}
