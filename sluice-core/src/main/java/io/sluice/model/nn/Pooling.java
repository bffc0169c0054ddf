package io.sluice.model.nn;

import io.sluice.model.Batch;

import java.util.Arrays;
import java.util.Locale;

/**
 * How an embedding model turns its final hidden states into one vector per sequence, as
 * {@code ARCH.pooling_type} numbers them (llama.cpp's llama_pooling_type): the mean over the
 * sequence's tokens, its first token (BERT's [CLS]), its last token (decoder embedders), none
 * (every token's state), or rank (a classifier head over the first or last token: a reranker's
 * relevance score).
 */
public enum Pooling {
    NONE, MEAN, CLS, LAST, RANK;

    /** The GGUF value: 0 none, 1 mean, 2 cls, 3 last, 4 rank. */
    public int id() {
        return ordinal();
    }

    /** The pooling a GGUF {@code pooling_type} value names, or null for another number. */
    public static Pooling ofId(int id) {
        return id >= 0 && id < values().length ? values()[id] : null;
    }

    /** Parses none, mean, cls, last or rank (the names llama.cpp's --pooling takes). */
    public static Pooling parse(String s) {
        try {
            return valueOf(s.strip().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown pooling '" + s + "' (none, mean, cls, last, rank)");
        }
    }

    /** Whether pooling reads only one token of each sequence, whose index {@link #token} gives. */
    public boolean singleToken() {
        return this == CLS || this == LAST || this == RANK;
    }

    /**
     * The batch index of the token a single-token pooling reads for sequence s: the first
     * token for CLS, the last for LAST, and for RANK the first or the last as {@code rankLast}
     * says (BERT cross-encoders read [CLS], decoder rerankers the last token).
     */
    public int token(int[] starts, int s, boolean rankLast) {
        boolean last = this == LAST || (this == RANK && rankLast);
        return last ? starts[s + 1] - 1 : starts[s];
    }

    /**
     * Where each sequence's tokens start in the batch: starts[s] .. starts[s+1]-1 are sequence s.
     * The batch must hold each sequence whole and contiguous (an encoder sees a sequence in one pass).
     */
    public static int[] sequenceStarts(Batch b) {
        int[] starts = new int[b.numSeqs + 1];
        Arrays.fill(starts, -1);
        int prev = -1;
        for (int t = 0; t < b.size; t++) {
            int s = b.seqOf[t];
            if (s != prev) {
                if (s < 0 || s >= b.numSeqs || starts[s] >= 0) throw new IllegalArgumentException("sequence " + s + " is not contiguous in the batch");
                starts[s] = t;
                prev = s;
            }
            if (b.positions[t] != t - starts[s]) {
                throw new IllegalArgumentException("sequence " + s + " must be whole: token " + (t - starts[s]) + " is at position " + b.positions[t]);
            }
        }
        starts[b.numSeqs] = b.size;
        for (int s = b.numSeqs - 1; s >= 0; s--) if (starts[s] < 0) throw new IllegalArgumentException("sequence " + s + " has no tokens");
        return starts;
    }

    /**
     * Pools the hidden states {@code h} (one row of {@code dim} floats per batch token) into
     * {@code out}: one row per sequence, or for NONE one per token. RANK, like CLS or LAST, picks
     * the token's state; its classifier head is applied afterwards.
     */
    public void pool(float[] h, int dim, Batch b, int[] starts, boolean rankLast, float[] out) {
        int seqs = b.numSeqs;
        switch (this) {
            case NONE -> System.arraycopy(h, 0, out, 0, b.size * dim);
            case MEAN -> {
                for (int s = 0; s < seqs; s++) {
                    int o = s * dim, n = starts[s + 1] - starts[s];
                    Arrays.fill(out, o, o + dim, 0f);
                    for (int t = starts[s]; t < starts[s + 1]; t++) {
                        for (int i = 0; i < dim; i++) out[o + i] += h[t * dim + i];
                    }
                    float inv = 1f / n;
                    for (int i = 0; i < dim; i++) out[o + i] *= inv;
                }
            }
            default -> {
                for (int s = 0; s < seqs; s++) System.arraycopy(h, token(starts, s, rankLast) * dim, out, s * dim, dim);
            }
        }
    }
}
