package io.sluice.engine;

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
    public void propose(List<Sequence> seqs, int[] want) {
        for (int i = 0; i < seqs.size(); i++) {
            Sequence s = seqs.get(i);
            if (s.draft.length < want[i]) s.draft = new int[want[i]];
            s.draftLen = lookup(s.tokens, s.length, want[i], s.draft);
        }
    }

    /** Writes up to k tokens into out: those after the latest earlier occurrence of tokens[length-n, length); returns how many. */
    static int lookup(int[] tokens, int length, int k, int[] out) {
        if (k <= 0) return 0;
        for (int n = Math.min(MAX_N, length - 1); n >= MIN_N; n--) {
            int tail = length - n;
            for (int start = tail - 1; start >= 0; start--) {
                if (!same(tokens, start, tail, n)) continue;
                int from = start + n, m = Math.min(k, length - from);
                System.arraycopy(tokens, from, out, 0, m);
                return m;
            }
        }
        return 0;
    }

    private static boolean same(int[] t, int a, int b, int n) {
        for (int i = 0; i < n; i++) if (t[a + i] != t[b + i]) return false;
        return true;
    }
}
