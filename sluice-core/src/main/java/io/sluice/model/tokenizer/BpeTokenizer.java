package io.sluice.model.tokenizer;

import io.sluice.gguf.GGUFFile;
import io.sluice.gguf.GGUFValue;
import io.sluice.gguf.GGUFValueType;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * Byte-level BPE ({@code tokenizer.ggml.model = gpt2}), as llama.cpp's llm_tokenizer_bpe: the text
 * is split into words by the pre-tokenizer, each word's UTF-8 bytes are spelled with GPT-2's byte
 * characters, and within a word adjacent symbols are merged by {@code tokenizer.ggml.merges} rank,
 * lowest rank first (leftmost on ties).
 */
final class BpeTokenizer extends AbstractTokenizer {
    private final PreTokenizer.Config pre;
    /** Merge rank by its "left right" text (the GGUF merge string itself). */
    private final Map<String, Integer> ranks;

    BpeTokenizer(Vocabulary vocab, PreTokenizer.Config pre, GGUFFile f) {
        super(vocab);
        this.pre = pre;
        GGUFValue merges = f.get("tokenizer.ggml.merges");
        if (merges == null) throw new IllegalArgumentException(f.path() + ": BPE tokenizer without tokenizer.ggml.merges");
        if (!merges.isArray() || merges.elementType() != GGUFValueType.STRING) {
            throw new IllegalArgumentException(f.path() + ": tokenizer.ggml.merges must be an array of strings, is " + merges.type());
        }
        String[] m = merges.asStringArray();
        ranks = HashMap.newHashMap(m.length);
        for (int i = 0; i < m.length; i++) {
            // A merge is "left right", split at the first space after the first character; the first listing wins.
            int space = m[i].indexOf(' ', 1);
            String key = space < 0 ? " " : m[i].substring(0, space) + " " + m[i].substring(space + 1);
            ranks.putIfAbsent(key, i);
        }
    }

    @Override
    void encode(List<Fragment> fragments, boolean addSpecial, IntList out) {
        if (addSpecial && vocab.addBos) out.add(vocab.bos);
        for (Fragment f : fragments) {
            if (f.isText()) {
                for (String word : PreTokenizer.split(pre, f.text())) tokenizeWord(ByteLevel.encode(word), out);
            } else {
                out.add(f.token());
            }
        }
        if (addSpecial && vocab.addEos) out.add(vocab.eos);
    }

    private record Bigram(int left, int right, int rank, int leftLength, int rightLength) {
    }

    /** Merges one byte-encoded word (every char stands for one byte) and emits its tokens. */
    private void tokenizeWord(String word, IntList out) {
        int n = word.length();
        if (n == 0) return;
        if (pre.ignoreMerges()) {
            int whole = vocab.id(word);
            if (whole >= 0) {
                out.add(whole);
                return;
            }
        }
        int[] len = new int[n], prev = new int[n], next = new int[n];
        for (int i = 0; i < n; i++) {
            len[i] = 1;
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        PriorityQueue<Bigram> queue = new PriorityQueue<>((a, b) -> a.rank != b.rank
                ? Integer.compare(a.rank, b.rank) : Integer.compare(a.left, b.left));
        for (int i = 1; i < n; i++) addBigram(word, len, i - 1, i, queue);

        while (!queue.isEmpty()) {
            Bigram b = queue.poll();
            // Symbols start where they started (merging only grows a symbol to the right), so
            // unchanged lengths mean unchanged text; anything else is a stale candidate.
            if (len[b.left] != b.leftLength || len[b.right] != b.rightLength) continue;
            len[b.left] += len[b.right];
            len[b.right] = 0;
            next[b.left] = next[b.right];
            if (next[b.right] >= 0) prev[next[b.right]] = b.left;
            addBigram(word, len, prev[b.left], b.left, queue);
            addBigram(word, len, b.left, next[b.left], queue);
        }

        for (int i = 0; i != -1; i = next[i]) {
            String symbol = word.substring(i, i + len[i]);
            int id = vocab.id(symbol);
            if (id >= 0) {
                out.add(id);
                continue;
            }
            // No token for the symbol: llama.cpp falls back to single-byte tokens, which only ASCII can match.
            for (int k = 0; k < symbol.length(); k++) {
                char c = symbol.charAt(k);
                int single = c < 0x80 ? vocab.id(String.valueOf(c)) : -1;
                if (single >= 0) out.add(single);
            }
        }
    }

    private void addBigram(String word, int[] len, int left, int right, PriorityQueue<Bigram> queue) {
        if (left < 0 || right < 0) return;
        // Symbol i always starts at char i of the word.
        String key = word.substring(left, left + len[left]) + " " + word.substring(right, right + len[right]);
        Integer rank = ranks.get(key);
        if (rank != null) queue.add(new Bigram(left, right, rank, len[left], len[right]));
    }
}
