package io.sluice.engine;

import io.sluice.model.tokenizer.Tokenizer;

import java.util.Arrays;

/**
 * Turns one sequence's generated token ids into text as they come. Decodes a short window of
 * ids (starting with a few prompt tokens for context, so a first token's leading space survives)
 * and releases only what the window's decoding adds, holding back while the text ends in an
 * incomplete UTF-8 character (U+FFFD).
 */
final class TextStream {
    private static final int CONTEXT = 6;
    private static final char REPLACEMENT = '\uFFFD';

    private final Tokenizer tokenizer;
    private int[] ids;
    private int size;
    /** ids[prefix..read) produced text already released; ids[read..size) not released yet. */
    private int prefix;
    private int read;

    TextStream(Tokenizer tokenizer, int[] prompt) {
        this.tokenizer = tokenizer;
        int ctx = Math.min(CONTEXT, prompt.length);
        this.ids = Arrays.copyOf(Arrays.copyOfRange(prompt, prompt.length - ctx, prompt.length), ctx + 16);
        this.size = ctx;
        this.prefix = 0;
        this.read = ctx;
    }

    /** Adds a generated id; returns the newly completed text (possibly empty). */
    String next(int id) {
        if (size == ids.length) compact();
        ids[size++] = id;
        String before = decode(prefix, read);
        String now = decode(prefix, size);
        if (now.length() > before.length() && now.charAt(now.length() - 1) != REPLACEMENT && now.startsWith(before)) {
            prefix = read;
            read = size;
            return now.substring(before.length());
        }
        if (!now.startsWith(before) && size - read > 8) {
            // Decoding is not prefix-stable here (rare); give up on continuity rather than hold forever.
            prefix = read;
            read = size;
            return now;
        }
        return "";
    }

    /** Releases what is held back (the end of the generation), incomplete characters included. */
    String flush() {
        if (read == size) return "";
        String before = decode(prefix, read);
        String now = decode(prefix, size);
        prefix = read = size;
        return now.startsWith(before) ? now.substring(before.length()) : now;
    }

    private String decode(int from, int to) {
        return from == to ? "" : tokenizer.decode(Arrays.copyOfRange(ids, from, to));
    }

    private void compact() {
        int[] n = new int[Math.max(32, (size - prefix) * 2)];
        System.arraycopy(ids, prefix, n, 0, size - prefix);
        read -= prefix;
        size -= prefix;
        prefix = 0;
        ids = n;
    }
}
