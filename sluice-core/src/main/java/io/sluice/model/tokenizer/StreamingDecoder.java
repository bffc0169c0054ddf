package io.sluice.model.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Turns one sequence's tokens into text as they arrive, never emitting half a UTF-8 character:
 * a character whose bytes are spread over several tokens (byte-fallback {@code <0xNN>} tokens,
 * byte-level BPE pieces of an emoji) comes out once its last byte arrives. Pieces are those of
 * {@link Tokenizer#tokenBytes(int)} (no SentencePiece leading-space removal, no clean-up: what
 * llama.cpp's server streams). Not thread-safe; use one per sequence.
 */
public final class StreamingDecoder {
    private final Tokenizer tokenizer;
    private byte[] pending = new byte[8];
    private int size;

    public StreamingDecoder(Tokenizer t) {
        if (t == null) throw new IllegalArgumentException("tokenizer is null");
        this.tokenizer = t;
    }

    /** Adds one token; returns the text it completes ("" while a character is still incomplete). */
    public String accept(int tokenId) {
        byte[] piece = tokenizer.tokenBytes(tokenId);
        if (size + piece.length > pending.length) pending = Arrays.copyOf(pending, Math.max(pending.length * 2, size + piece.length));
        System.arraycopy(piece, 0, pending, size, piece.length);
        size += piece.length;
        int complete = completePrefix(pending, size);
        if (complete == 0) return "";
        String text = new String(pending, 0, complete, StandardCharsets.UTF_8);
        System.arraycopy(pending, complete, pending, 0, size - complete);
        size -= complete;
        return text;
    }

    /** Whatever is still held (an unfinished character comes out as U+FFFD); the decoder is empty afterwards. */
    public String flush() {
        String text = new String(pending, 0, size, StandardCharsets.UTF_8);
        size = 0;
        return text;
    }

    /**
     * Length of the longest prefix that does not end inside a character that may still be completed.
     * Only a tail that is a valid start of a multi-byte sequence is held back; bytes that can never
     * become valid are released (to be shown as U+FFFD) rather than held forever.
     */
    static int completePrefix(byte[] b, int n) {
        // A UTF-8 character is at most 4 bytes, so only the last 3 bytes can be an unfinished one.
        for (int start = Math.max(0, n - 3); start < n; start++) {
            int lead = b[start] & 0xFF;
            int need = lead >= 0xF0 && lead <= 0xF4 ? 4 : lead >= 0xE0 ? (lead <= 0xEF ? 3 : 0) : lead >= 0xC2 ? 2 : 0;
            if (need == 0 || start + need <= n) continue; // not a lead byte, or its character is complete
            boolean continuing = true;
            for (int k = start + 1; k < n; k++) {
                if ((b[k] & 0xC0) != 0x80 || (k == start + 1 && !validSecond(lead, b[k] & 0xFF))) {
                    continuing = false;
                    break;
                }
            }
            if (continuing) return start;
        }
        return n;
    }

    /** The second-byte restrictions of well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
    private static boolean validSecond(int lead, int second) {
        return switch (lead) {
            case 0xE0 -> second >= 0xA0;
            case 0xED -> second <= 0x9F;
            case 0xF0 -> second >= 0x90;
            case 0xF4 -> second <= 0x8F;
            default -> true;
        };
    }
}
