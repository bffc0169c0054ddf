package io.sluice.model;

/**
 * The tokens of one forward pass, possibly from many sequences (continuous batching): each token
 * has its id, its position in its sequence and the index of that sequence within the batch. Each
 * sequence brings one KV block table per {@linkplain KvLayout#groups() group of layers}: position
 * p of the sequence lives, for the layers of group g, in block {@code blockTables[s][g][p / blockSize]}
 * at {@code p % blockSize}. Positions before a sequence's first token in the batch must already be
 * in the KV cache (earlier steps, or a shared prefix) as far back as each layer's window reaches.
 * Tokens of one sequence appear in increasing position order.
 */
public final class Batch {
    public final int capacity;
    public final int[] tokens;
    public final int[] positions;
    public final int[] seqOf;
    /** Whether the pass computes logits for this token (e.g. only the last prompt token). */
    public final boolean[] wantLogits;
    public int size;

    /** What a decoder's pass writes for the tokens that want logits. */
    public enum Output {
        /** A row of vocabulary logits each. */
        LOGITS,
        /** The final-normed hidden state instead (a row of the model's width each): what an embedder pools. */
        HIDDEN
    }

    public Output output = Output.LOGITS;

    /** [sequence][group] -> the blocks of its positions (-1 where a sliding-window group gave one back). */
    public int[][][] blockTables;
    public int numSeqs;

    public Batch(int capacity, int maxSeqs) {
        this.capacity = capacity;
        this.tokens = new int[capacity];
        this.positions = new int[capacity];
        this.seqOf = new int[capacity];
        this.wantLogits = new boolean[capacity];
        this.blockTables = new int[maxSeqs][][];
    }

    public void clear() {
        size = 0;
        numSeqs = 0;
    }

    /** Registers a sequence's block tables, one per group of layers (null for an encoder); returns its index for {@link #add}. */
    public int addSequence(int[]... groupTables) {
        if (numSeqs == blockTables.length) throw new IllegalStateException("batch holds at most " + blockTables.length + " sequences");
        blockTables[numSeqs] = groupTables;
        return numSeqs++;
    }

    /** Sequence s's block table of one group of layers. */
    public int[] table(int s, int group) {
        int[][] tables = blockTables[s];
        if (group >= tables.length) {
            throw new IllegalArgumentException("a sequence needs one block table per KV group: got " + tables.length + " for group " + group);
        }
        return tables[group];
    }

    public void add(int token, int position, int seq, boolean logits) {
        if (size == capacity) throw new IllegalStateException("batch holds at most " + capacity + " tokens");
        tokens[size] = token;
        positions[size] = position;
        seqOf[size] = seq;
        wantLogits[size] = logits;
        size++;
    }

    public int logitsCount() {
        int n = 0;
        for (int i = 0; i < size; i++) if (wantLogits[i]) n++;
        return n;
    }

    /** A batch of one sequence's tokens at positions start.. (single-stream use; tables from {@link KvLayout#contiguousTables}). */
    public static Batch single(int[] tokens, int start, boolean allLogits, int[]... groupTables) {
        Batch b = new Batch(tokens.length, 1);
        int s = b.addSequence(groupTables);
        for (int i = 0; i < tokens.length; i++) b.add(tokens[i], start + i, s, allLogits || i == tokens.length - 1);
        return b;
    }
}
