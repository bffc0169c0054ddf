package io.sluice.server;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.util.Iterator;
import java.util.Map;

/**
 * Strict UTF-8 for request text. Jackson's byte decoder is lenient (the overlong {@code C0 AF} becomes
 * '/', CESU-8 surrogates and sequences beyond U+10FFFF pass), and JSON's {@code \\u} escapes can spell
 * lone surrogates that no UTF-8 tokenizer input can hold. So request bodies are checked as bytes before
 * parsing (RFC 3629: shortest form only, no surrogates, at most U+10FFFF) and their strings after parsing
 * (no unpaired surrogate); either failure is a 400 naming the field, e.g. {@code messages[0].content}.
 */
final class StrictUtf8 {
    private StrictUtf8() {
    }

    /** Offset of the first byte that does not begin a well-formed UTF-8 sequence, or -1 when all of b is well-formed. */
    static int firstInvalid(byte[] b, int from, int to) {
        int i = from;
        while (i < to) {
            int c = b[i] & 0xff;
            if (c < 0x80) {
                i++;
                continue;
            }
            int n = sequenceLength(b, i, to);
            if (n < 0) return i;
            i += n;
        }
        return -1;
    }

    static int firstInvalid(byte[] b) {
        return firstInvalid(b, 0, b.length);
    }

    /** Length of the well-formed multi-byte sequence at i, or -1 (RFC 3629 table 3-7 of Unicode). */
    private static int sequenceLength(byte[] b, int i, int to) {
        int c = b[i] & 0xff;
        int n, lo = 0x80, hi = 0xbf; // allowed range of the second byte
        if (c >= 0xc2 && c <= 0xdf) n = 2;
        else if (c == 0xe0) { n = 3; lo = 0xa0; }
        else if (c == 0xed) { n = 3; hi = 0x9f; }
        else if (c >= 0xe1 && c <= 0xef) n = 3;
        else if (c == 0xf0) { n = 4; lo = 0x90; }
        else if (c == 0xf4) { n = 4; hi = 0x8f; }
        else if (c >= 0xf1 && c <= 0xf3) n = 4;
        else return -1;
        if (i + n > to) return -1;
        int c1 = b[i + 1] & 0xff;
        if (c1 < lo || c1 > hi) return -1;
        for (int k = 2; k < n; k++) if ((b[i + k] & 0xc0) != 0x80) return -1;
        return n;
    }

    /** What is wrong with the sequence at i (which {@link #firstInvalid} reported), in words. */
    static String describe(byte[] b, int i, int to) {
        int c = b[i] & 0xff;
        int c1 = i + 1 < to ? b[i + 1] & 0xff : -1;
        String bytes = hex(b, i, Math.min(to, i + 4));
        String what;
        if (c >= 0x80 && c <= 0xbf) what = "a continuation byte without a lead byte";
        else if (c == 0xc0 || c == 0xc1 || c == 0xe0 && c1 >= 0x80 && c1 < 0xa0 || c == 0xf0 && c1 >= 0x80 && c1 < 0x90) what = "an overlong encoding";
        else if (c == 0xed && c1 >= 0xa0 && c1 <= 0xbf) what = "a UTF-16 surrogate encoded in UTF-8 (CESU-8)";
        else if (c == 0xf4 && c1 >= 0x90 || c >= 0xf5 && c <= 0xf7) what = "a code point above U+10FFFF";
        else if (c >= 0xf8) what = "a byte that never occurs in UTF-8";
        else what = "a truncated or malformed sequence";
        return what + " (bytes " + bytes + " at offset " + i + ")";
    }

    private static String hex(byte[] b, int from, int to) {
        StringBuilder sb = new StringBuilder();
        for (int k = from; k < to; k++) sb.append(k > from ? " " : "").append(String.format("%02X", b[k] & 0xff));
        return sb.toString();
    }

    /**
     * The request field holding byte offset {@code at} of a JSON body (found by re-reading it with Jackson's
     * lenient parser), or null when the offset is outside any string.
     */
    static String fieldAt(JsonParser p, long at) throws IOException {
        try (p) {
            for (JsonToken t; (t = p.nextToken()) != null; ) {
                long start = p.currentTokenLocation().getByteOffset();
                if (start > at) return null;
                if (t == JsonToken.FIELD_NAME || t == JsonToken.VALUE_STRING) {
                    p.getText(); // reads the whole string, so the end offset is known
                    long end = p.currentLocation().getByteOffset();
                    if (at < end) return path(p.getParsingContext());
                }
            }
        } catch (JsonProcessingException e) {
            // Jackson itself refused the byte (e.g. 0xFF): the context it was in names the field.
            if (e.getProcessor() instanceof JsonParser jp) return path(jp.getParsingContext());
        }
        return null;
    }

    /** The first string value or field name with an unpaired surrogate (from a {@code \\u} escape), as a path; null if none. */
    static String loneSurrogate(JsonNode n, String path) {
        if (n.isTextual()) return hasLoneSurrogate(n.textValue()) ? path : null;
        if (n.isArray()) {
            for (int i = 0; i < n.size(); i++) {
                String p = loneSurrogate(n.get(i), path + "[" + i + "]");
                if (p != null) return p;
            }
        } else if (n.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String p = path.isEmpty() ? e.getKey() : path + "." + e.getKey();
                if (hasLoneSurrogate(e.getKey())) return p;
                p = loneSurrogate(e.getValue(), p);
                if (p != null) return p;
            }
        }
        return null;
    }

    static boolean hasLoneSurrogate(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!Character.isSurrogate(c)) continue;
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) i++;
            else return true;
        }
        return false;
    }

    /** OpenAI-style parameter path of a parser position: {@code messages[0].content}. */
    static String path(JsonStreamContext ctx) {
        StringBuilder sb = new StringBuilder();
        for (JsonStreamContext c = ctx; c != null && !c.inRoot(); c = c.getParent()) {
            if (c.inArray()) sb.insert(0, "[" + Math.max(c.getCurrentIndex(), 0) + "]");
            else if (c.getCurrentName() != null) sb.insert(0, (c.getParent() != null && !c.getParent().inRoot() ? "." : "") + c.getCurrentName());
        }
        return sb.isEmpty() ? null : sb.toString();
    }
}
