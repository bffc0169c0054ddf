package io.sluice.model.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.PriorityQueue;

/**
 * SentencePiece-style tokenization ({@code tokenizer.ggml.model = llama}), as llama.cpp's
 * llm_tokenizer_spm: spaces become U+2581, a leading space is added to text that starts the input
 * or follows a special token (when {@code add_space_prefix}), then adjacent pieces are merged
 * greedily, always the pair whose merged text is the vocabulary entry with the highest score
 * (leftmost on ties). Characters left without a token are spelled as {@code <0xNN>} byte tokens.
 */
final class SpmTokenizer extends AbstractTokenizer {

    SpmTokenizer(Vocabulary vocab) {
        super(vocab);
    }

    @Override
    void encode(List<Fragment> fragments, boolean addSpecial, IntList out) {
        if (addSpecial && vocab.addBos) out.add(vocab.bos);
        boolean afterSpecial = true; // the very start counts as "after a special token"
        for (Fragment f : fragments) {
            if (f.isText()) {
                String s = vocab.addSpacePrefix && afterSpecial ? " " + f.text() : f.text();
                tokenize(s.replace(' ', '\u2581'), out);
                afterSpecial = false;
            } else {
                out.add(f.token());
                afterSpecial = true;
            }
        }
        if (addSpecial && vocab.addEos) out.add(vocab.eos);
    }

    /** One merge candidate: symbols left+right whose concatenation is a token with this score. */
    private record Bigram(int left, int right, float score, int length) {
    }

    private void tokenize(String text, IntList out) {
        int n = text.codePointCount(0, text.length());
        if (n == 0) return;
        // Symbols start as single code points; merging appends the right symbol to the left one.
        int[] start = new int[n], len = new int[n], prev = new int[n], next = new int[n];
        for (int i = 0, pos = 0; i < n; i++) {
            start[i] = pos;
            len[i] = Character.charCount(text.codePointAt(pos));
            pos += len[i];
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        PriorityQueue<Bigram> queue = new PriorityQueue<>((a, b) -> a.score != b.score
                ? Float.compare(b.score, a.score) : Integer.compare(a.left, b.left));
        for (int i = 1; i < n; i++) addBigram(text, start, len, i - 1, i, queue);

        while (!queue.isEmpty()) {
            Bigram b = queue.poll();
            // Stale when either side was merged away or grew since the candidate was made.
            if (len[b.left] == 0 || len[b.right] == 0 || len[b.left] + len[b.right] != b.length) continue;
            len[b.left] += len[b.right];
            len[b.right] = 0;
            next[b.left] = next[b.right];
            if (next[b.right] >= 0) prev[next[b.right]] = b.left;
            addBigram(text, start, len, prev[b.left], b.left, queue);
            addBigram(text, start, len, b.left, next[b.left], queue);
        }

        for (int i = 0; i != -1; i = next[i]) {
            String piece = text.substring(start[i], start[i] + len[i]);
            int id = vocab.id(piece);
            if (id >= 0) {
                out.add(id);
            } else {
                for (byte b : piece.getBytes(StandardCharsets.UTF_8)) out.add(vocab.byteToken(b & 0xFF));
            }
        }
    }

    private void addBigram(String text, int[] start, int[] len, int left, int right, PriorityQueue<Bigram> queue) {
        if (left < 0 || right < 0) return;
        int length = len[left] + len[right];
        int id = vocab.id(text.substring(start[left], start[left] + length));
        if (id < 0) return;
        queue.add(new Bigram(left, right, vocab.score(id), length));
    }
}
