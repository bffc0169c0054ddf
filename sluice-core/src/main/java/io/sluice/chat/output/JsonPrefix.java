package io.sluice.chat.output;

/**
 * Finds where a JSON value in generated text ends, when it may still be growing: the end of a
 * complete value, {@link #INCOMPLETE} when the text so far is a valid beginning of one, or
 * {@link #INVALID}. Strict JSON (RFC 8259); nesting deeper than {@link #MAX_DEPTH} is invalid, so
 * hostile output cannot overflow the stack.
 */
final class JsonPrefix {
    static final int INCOMPLETE = -1, INVALID = -2;
    static final int MAX_DEPTH = 256;

    private final CharSequence s;
    private int i;

    private static final class Stop extends RuntimeException {
        final int code;

        Stop(int code) {
            super(null, null, false, false);
            this.code = code;
        }
    }

    private JsonPrefix(CharSequence s, int from) {
        this.s = s;
        this.i = from;
    }

    /** End (exclusive) of the JSON value starting at from (leading whitespace skipped), or INCOMPLETE / INVALID. */
    static int end(CharSequence s, int from) {
        JsonPrefix p = new JsonPrefix(s, from);
        try {
            p.ws();
            p.value(0);
            return p.i;
        } catch (Stop e) {
            return e.code;
        }
    }

    /** Index of the first character at or after from that is not JSON whitespace. */
    static int skipWs(CharSequence s, int from) {
        int i = from;
        while (i < s.length() && isWs(s.charAt(i))) i++;
        return i;
    }

    private static boolean isWs(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
    }

    private char peek() {
        if (i >= s.length()) throw new Stop(INCOMPLETE);
        return s.charAt(i);
    }

    private void ws() {
        while (i < s.length() && isWs(s.charAt(i))) i++;
    }

    private void expect(char c) {
        if (peek() != c) throw new Stop(INVALID);
        i++;
    }

    private void value(int depth) {
        if (depth > MAX_DEPTH) throw new Stop(INVALID);
        char c = peek();
        switch (c) {
            case '{' -> object(depth);
            case '[' -> array(depth);
            case '"' -> string();
            case 't' -> literal("true");
            case 'f' -> literal("false");
            case 'n' -> literal("null");
            default -> {
                if (c == '-' || (c >= '0' && c <= '9')) number();
                else throw new Stop(INVALID);
            }
        }
    }

    private void object(int depth) {
        i++;
        ws();
        if (peek() == '}') {
            i++;
            return;
        }
        while (true) {
            ws();
            string();
            ws();
            expect(':');
            ws();
            value(depth + 1);
            ws();
            char c = peek();
            i++;
            if (c == '}') return;
            if (c != ',') throw new Stop(INVALID);
        }
    }

    private void array(int depth) {
        i++;
        ws();
        if (peek() == ']') {
            i++;
            return;
        }
        while (true) {
            ws();
            value(depth + 1);
            ws();
            char c = peek();
            i++;
            if (c == ']') return;
            if (c != ',') throw new Stop(INVALID);
        }
    }

    private void string() {
        expect('"');
        while (true) {
            char c = peek();
            i++;
            if (c == '"') return;
            if (c < 0x20) throw new Stop(INVALID);
            if (c == '\\') {
                char e = peek();
                i++;
                if (e == 'u') {
                    for (int k = 0; k < 4; k++) {
                        char h = peek();
                        i++;
                        if (Character.digit(h, 16) < 0) throw new Stop(INVALID);
                    }
                } else if ("\"\\/bfnrt".indexOf(e) < 0) {
                    throw new Stop(INVALID);
                }
            }
        }
    }

    private void literal(String word) {
        for (int k = 0; k < word.length(); k++) {
            if (peek() != word.charAt(k)) throw new Stop(INVALID);
            i++;
        }
    }

    private void number() {
        if (peek() == '-') i++;
        char c = peek();
        if (c == '0') {
            i++;
        } else if (c >= '1' && c <= '9') {
            digits();
        } else {
            throw new Stop(INVALID);
        }
        if (i < s.length() && s.charAt(i) == '.') {
            i++;
            if (!(peek() >= '0' && peek() <= '9')) throw new Stop(INVALID);
            digits();
        }
        if (i < s.length() && (s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
            i++;
            if (peek() == '+' || peek() == '-') i++;
            if (!(peek() >= '0' && peek() <= '9')) throw new Stop(INVALID);
            digits();
        }
        // A number at the very end of the text may still grow ("1" then "12"): not complete yet.
        if (i >= s.length()) throw new Stop(INCOMPLETE);
    }

    private void digits() {
        while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') i++;
    }
}
