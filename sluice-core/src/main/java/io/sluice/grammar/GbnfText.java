package io.sluice.grammar;

/** Writing GBNF source: literals and character classes with every character escaped as the parser reads it. */
final class GbnfText {
    private GbnfText() {
    }

    /** A GBNF literal matching exactly s. */
    static String literal(String s) {
        StringBuilder b = new StringBuilder("\"");
        s.codePoints().forEach(cp -> b.append(cp == '"' ? "\\\"" : cp == '[' || cp == ']' || cp == '-' || cp == '^' ? String.valueOf((char) cp) : ch(cp)));
        return b.append('"').toString();
    }

    /** A GBNF class of the code point ranges {lo0, hi0, ...} (assumed non-empty). */
    static String charClass(int[] ranges) {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < ranges.length; i += 2) {
            b.append(ch(ranges[i]));
            if (ranges[i + 1] > ranges[i]) b.append('-').append(ch(ranges[i + 1]));
        }
        return b.append(']').toString();
    }

    /** One character as it may appear inside a literal or class: printable ASCII as itself, the rest escaped. */
    private static String ch(int cp) {
        if (cp == '\\') return "\\\\";
        if (cp == '"' || cp == ']' || cp == '[' || cp == '-' || cp == '^') return String.format("\\x%02X", cp);
        if (cp >= 0x20 && cp < 0x7F) return String.valueOf((char) cp);
        if (cp < 0x100) return String.format("\\x%02X", cp);
        if (cp < 0x10000) return String.format("\\u%04X", cp);
        return String.format("\\U%08X", cp);
    }
}
