package io.sluice.model.tokenizer;

import java.nio.charset.StandardCharsets;
import java.text.Normalizer;

/**
 * The code point properties the tokenizers need, defined the way llama.cpp's unicode tables are:
 * one general-category class per code point (letter, number, punctuation, symbol, mark, separator,
 * other) plus the Unicode White_Space set, which is not the same thing as the separator category
 * (tab and newline are "other" yet whitespace).
 */
final class Unicode {
    private Unicode() {
    }

    static final int NUMBER = 1, LETTER = 2, SEPARATOR = 4, MARK = 8, PUNCTUATION = 16, SYMBOL = 32, CONTROL = 64;

    /** The general-category class of {@code cp}; every valid code point has exactly one (unassigned counts as control). */
    static int category(int cp) {
        return switch (Character.getType(cp)) {
            case Character.DECIMAL_DIGIT_NUMBER, Character.LETTER_NUMBER, Character.OTHER_NUMBER -> NUMBER;
            case Character.UPPERCASE_LETTER, Character.LOWERCASE_LETTER, Character.TITLECASE_LETTER,
                 Character.MODIFIER_LETTER, Character.OTHER_LETTER -> LETTER;
            case Character.SPACE_SEPARATOR, Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR -> SEPARATOR;
            case Character.NON_SPACING_MARK, Character.ENCLOSING_MARK, Character.COMBINING_SPACING_MARK -> MARK;
            case Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION,
                 Character.END_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION, Character.FINAL_QUOTE_PUNCTUATION,
                 Character.OTHER_PUNCTUATION -> PUNCTUATION;
            case Character.MATH_SYMBOL, Character.CURRENCY_SYMBOL, Character.MODIFIER_SYMBOL, Character.OTHER_SYMBOL -> SYMBOL;
            default -> CONTROL;
        };
    }

    static boolean isLetter(int cp) { return category(cp) == LETTER; }
    static boolean isNumber(int cp) { return category(cp) == NUMBER; }

    /** Unicode's White_Space property (the 25 code points Python's regex \s matches). */
    static boolean isWhitespace(int cp) {
        if (cp < 0x80) return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20;
        return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A)
                || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
    }

    /** Simple lowercase mapping (the first code point of the full mapping, as llama.cpp's table holds). */
    static int toLower(int cp) {
        return Character.toLowerCase(cp);
    }

    /** The first code point of the canonical decomposition: "é" gives "e" (llama.cpp's accent stripping). */
    static int nfdBase(int cp) {
        if (cp < 0xC0) return cp;
        String s = Normalizer.normalize(Character.toString(cp), Normalizer.Form.NFD);
        return s.codePointAt(0);
    }

    static int[] codePoints(String s) {
        return s.codePoints().toArray();
    }

    static String fromCodePoints(int[] cps, int from, int to) {
        return new String(cps, from, to - from);
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Replaces unpaired surrogates (which have no UTF-8 form) with U+FFFD, as llama.cpp does for invalid UTF-8. */
    static String sanitize(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isSurrogate(c)) {
                boolean paired = Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
                if (!paired) return replaceLoneSurrogates(s);
                i++;
            }
        }
        return s;
    }

    private static String replaceLoneSurrogates(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                sb.append(c).append(s.charAt(++i));
            } else {
                sb.append(Character.isSurrogate(c) ? '\uFFFD' : c);
            }
        }
        return sb.toString();
    }
}
