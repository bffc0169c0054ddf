package io.sluice.engine;

import java.util.Arrays;
import java.util.List;

/**
 * Prompt lookup (llama.cpp's ngram-simple, Saxena's prompt lookup decoding): the guess is what
 * followed the latest earlier occurrence of the sequence's last n tokens, longest n first, copied
 * from the prompt or from the text generated so far. It costs no model: the win where the output
 * repeats its input (summaries, rewrites, code edits, RAG answers quoting their sources).
 */
final class NgramDrafter implements Drafter {
    /** Longest and shortest n-gram looked up: longer matches guess better; one token matches too much. */
    static final int MAX_N = 4, MIN_N = 2;

    @Override
    public List<Source> sources() {
        return List.of(Source.NGRAM);
    }

    @Override
    public int offered(Sequence s, Source src, int max) {
        return match(s.tokens, s.length) < 0 ? 0 : max;
    }

    @Override
    public void propose(List<Sequence> seqs, int[] want) {
        for (int i = 0; i < seqs.size(); i++) {
            Sequence s = seqs.get(i);
            if (s.draft.length < want[i]) s.draft = new int[want[i]];
            s.draftLen = lookup(s.tokens, s.length, want[i], s.draft);
            // Copied guesses are certain, not drawn: no draft model's distribution may linger from an earlier step.
            Arrays.fill(s.draftDraws, 0, Math.min(s.draftLen, s.draftDraws.length), null);
        }
    }

    /**
     * Writes k tokens into out: those after the latest earlier occurrence of tokens[length-n, length),
     * or none when it has none; returns how many. Where the copy reaches the present it goes on
     * reading its own guesses: the text loops with period length - from, and a copy stopped there
     * would guess one period a step (a single token in a one-token loop).
     */
    static int lookup(int[] tokens, int length, int k, int[] out) {
        int from = k <= 0 ? -1 : match(tokens, length);
        if (from < 0) return 0;
        for (int j = 0; j < k; j++) out[j] = from + j < length ? tokens[from + j] : out[from + j - length];
        return k;
    }

    /** Where the tokens after the latest earlier occurrence of the last n-gram (longest n first) start; -1 when none occurs. */
    private static int match(int[] tokens, int length) {
        for (int n = Math.min(MAX_N, length - 1); n >= MIN_N; n--) {
            int tail = length - n;
            for (int start = tail - 1; start >= 0; start--) {
                if (same(tokens, start, tail, n)) return start + n;
            }
        }
        return -1;
    }

    private static boolean same(int[] t, int a, int b, int n) {
        for (int i = 0; i < n; i++) if (t[a + i] != t[b + i]) return false;
        return true;
    }
}
