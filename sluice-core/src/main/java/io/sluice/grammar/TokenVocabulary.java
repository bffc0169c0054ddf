package io.sluice.grammar;

import io.sluice.model.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.function.ToIntFunction;

/**
 * What grammars need to know about a vocabulary, built once and shared by every grammar and every
 * request on it: each token's bytes (as the engine's text output spells them), the end-of-generation
 * tokens, and a {@link TokenTrie} over the tokens that carry text. Tokens without text (control
 * tokens) are never allowed by the grammar's characters, only by its {@code <token>} terminals or,
 * for end-of-generation tokens, where the grammar may end.
 */
public final class TokenVocabulary {
    private static final Map<Tokenizer, TokenVocabulary> CACHE = new WeakHashMap<>();

    final int size;
    final byte[][] bytes;
    final BitSet eog;
    /** Tokens with text that do not end the generation: what {@code !<t>} allows. */
    final long[] textTokens;
    final long[] eogTokens;
    final TokenTrie trie;
    private final ToIntFunction<String> byText;

    private TokenVocabulary(byte[][] bytes, BitSet eog, ToIntFunction<String> byText) {
        this.size = bytes.length;
        this.bytes = bytes;
        this.eog = eog;
        this.byText = byText;
        this.textTokens = new long[words(size)];
        this.eogTokens = new long[words(size)];
        List<byte[]> keys = new ArrayList<>();
        List<Integer> ids = new ArrayList<>();
        for (int id = 0; id < size; id++) {
            if (eog.get(id)) {
                eogTokens[id >>> 6] |= 1L << id;
            } else if (bytes[id].length > 0) {
                textTokens[id >>> 6] |= 1L << id;
                keys.add(bytes[id]);
                ids.add(id);
            }
        }
        this.trie = TokenTrie.build(keys.toArray(new byte[0][]), ids.stream().mapToInt(Integer::intValue).toArray());
    }

    /** The (cached) vocabulary of a tokenizer. */
    public static TokenVocabulary of(Tokenizer t) {
        synchronized (CACHE) {
            TokenVocabulary v = CACHE.get(t);
            if (v == null) {
                int n = t.vocabSize();
                byte[][] b = new byte[n][];
                BitSet eog = new BitSet(n);
                for (int id = 0; id < n; id++) {
                    b[id] = t.tokenBytes(id);
                    if (t.isEog(id)) eog.set(id);
                }
                v = new TokenVocabulary(b, eog, text -> {
                    int[] ids = t.encode(text, false, true);
                    return ids.length == 1 ? ids[0] : -1;
                });
                CACHE.put(t, v);
            }
            return v;
        }
    }

    /**
     * A vocabulary from raw token bytes (benchmarks, tests, tokenizers outside Sluice); a token's text
     * for {@code <text>} terminals is looked up as exactly its bytes.
     */
    public static TokenVocabulary of(byte[][] tokenBytes, BitSet eog) {
        byte[][] b = tokenBytes.clone();
        java.util.HashMap<String, Integer> index = new java.util.HashMap<>();
        for (int id = 0; id < b.length; id++) index.putIfAbsent(new String(b[id], java.nio.charset.StandardCharsets.UTF_8), id);
        return new TokenVocabulary(b, (BitSet) eog.clone(), text -> index.getOrDefault(text, -1));
    }

    public int size() {
        return size;
    }

    /** The token whose text is exactly this (one token), or -1. */
    int tokenByText(String text) {
        return byText.applyAsInt(text);
    }

    byte[] bytes(int id) {
        return bytes[id];
    }

    static int words(int bits) {
        return (bits + 63) >>> 6;
    }
}
