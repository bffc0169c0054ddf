package io.sluice.engine;

import io.sluice.gguf.GGUFFile;
import io.sluice.model.Batch;
import io.sluice.model.KvLayout;
import io.sluice.model.KvStore;
import io.sluice.model.Model;
import io.sluice.model.ModelConfig;
import io.sluice.model.tokenizer.Tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.function.Predicate;

/**
 * A model without weights whose next-token logits depend on the whole token history as read
 * back from the paged KV store: each position stores (token, position), and the logits of a
 * token come from a hash over every position 0..pos fetched through the sequence's block table.
 * A wrong block table, a shared block overwritten, or a missing prefix changes the output or
 * throws, so the engine's bookkeeping is tested exactly, and fast.
 */
final class FakeModel implements Model {
    static final int VOCAB = 64;
    /** Token 0 ends generation (EOS); other ids decode to one letter each. */
    static final int EOS = 0;

    private final ModelConfig cfg;
    private final KvLayout layout;
    private final int width;
    final FakeTokenizer tokenizer = new FakeTokenizer();
    volatile Predicate<Batch> failWhen = b -> false;
    volatile long delayNanos;
    long weightBytes = 1 << 20;
    /** Below weightBytes: a model that can leave weights on disk (a mixture of experts). */
    long minimumResident = -1;
    long limitedTo = -1;
    int forwards;

    FakeModel(int contextLength) {
        this(1, 1, 32, VOCAB, contextLength);
    }

    /** A model of this cache shape (for memory planning; generation uses layer 0 and needs vocab = VOCAB). */
    FakeModel(int layers, int kvHeads, int headDim, int vocab, int contextLength) {
        this(KvLayout.uniform(layers, kvHeads, headDim), vocab, contextLength);
    }

    private FakeModel(KvLayout layout, int vocab, int contextLength) {
        KvLayout.Layer first = layout.layer(0);
        cfg = new ModelConfig("fake", first.kvHeads() * first.headDim(), layout.size(), vocab, contextLength);
        this.layout = layout;
        width = 8 * first.kvHeads() * first.headDim();
    }

    /**
     * Layer 0 full attention (the logits come from it as always), then a layer per window: every
     * step also checks that each windowed layer still holds every position its window sees, so a
     * block given back too early, or a wrong block, throws.
     */
    static FakeModel windowed(int contextLength, int... windows) {
        java.util.List<KvLayout.Layer> layers = new java.util.ArrayList<>();
        layers.add(new KvLayout.Layer(1, 32, 0));
        for (int w : windows) layers.add(new KvLayout.Layer(1, 32, w));
        return new FakeModel(new KvLayout(layers), VOCAB, contextLength);
    }

    @Override public ModelConfig config() { return cfg; }
    @Override public KvLayout kvLayout() { return layout; }
    @Override public long activationBytes(int tokens) { return 4L * tokens * width; }
    @Override public int activationWidth() { return width; }
    @Override public Tokenizer tokenizer() { return tokenizer; }
    @Override public GGUFFile file() { return null; }
    @Override public long weightBytes() { return weightBytes; }
    @Override public long minimumResidentWeightBytes() { return minimumResident >= 0 ? minimumResident : weightBytes; }
    @Override public void limitResidentWeights(long bytes) { limitedTo = bytes; }
    @Override public void close() { }

    @Override
    public void forward(Batch b, KvStore kv, float[] logits) {
        forwards++;
        if (failWhen.test(b)) throw new IllegalStateException("injected failure");
        if (delayNanos > 0) java.util.concurrent.locks.LockSupport.parkNanos(delayNanos);
        int bs = kv.blockSize();
        float[] row = new float[cfg.dim()];
        for (int t = 0; t < b.size; t++) {
            row[0] = b.tokens[t];
            row[1] = b.positions[t];
            int pos = b.positions[t];
            for (int l = 0; l < layout.size(); l++) {
                if (l == 0 || layout.layer(l).window() > 0) kv.write(l, b.table(b.seqOf[t], kv.groupOf(l))[pos / bs], pos % bs, row, 0, row, 0);
            }
        }
        int out = 0;
        float[] read = new float[layout.layer(0).headDim()];
        for (int t = 0; t < b.size; t++) {
            int pos = b.positions[t];
            for (int l = 1; l < layout.size(); l++) {
                int w = layout.layer(l).window();
                if (w == 0) continue;
                int[] table = b.table(b.seqOf[t], kv.groupOf(l));
                for (int p = Math.max(0, pos - w + 1); p <= pos; p++) {
                    if (table[p / bs] < 0) throw new IllegalStateException("layer " + l + " lost the block of position " + p + " inside its window at " + pos);
                    kv.readKey(l, table[p / bs], p % bs, 0, read, 0);
                    if (read[1] != p) throw new IllegalStateException("layer " + l + ": KV of position " + p + " holds position " + read[1]);
                }
            }
            if (!b.wantLogits[t]) continue;
            int[] table = b.table(b.seqOf[t], kv.groupOf(0));
            long h = SEED;
            for (int p = 0; p <= pos; p++) {
                kv.readKey(0, table[p / bs], p % bs, 0, read, 0);
                if (read[1] != p) throw new IllegalStateException("KV of position " + p + " holds position " + read[1]);
                h = step(h, (int) read[0]);
            }
            fillLogits(h, logits, out * VOCAB);
            out++;
        }
    }

    private static final long SEED = 1469598103934665603L;

    private static long step(long h, int token) {
        return (h ^ token) * 1099511628211L;
    }

    private static void fillLogits(long h, float[] logits, int off) {
        for (int v = 0; v < VOCAB; v++) {
            long x = (h + v) * 0x9E3779B97F4A7C15L;
            x ^= x >>> 31;
            logits[off + v] = (x & 0xFFFF) / 4096f;
        }
        // EOS wins about one step in 25, so outputs are long enough to be interesting but do end.
        logits[off + EOS] = Math.floorMod(h, 25) == 0 ? 100f : -12f;
    }

    /**
     * What greedy generation must produce for this prompt, computed without any KV cache:
     * stops after EOS (included), maxTokens, or when the context of ctx positions is full.
     */
    static int[] expectedGreedy(int[] prompt, int maxTokens, int ctx, boolean ignoreEos) {
        int[] all = java.util.Arrays.copyOf(prompt, ctx + 1);
        int len = prompt.length;
        float[] logits = new float[VOCAB];
        java.util.List<Integer> out = new java.util.ArrayList<>();
        while (true) {
            long h = SEED;
            for (int i = 0; i < len; i++) h = step(h, all[i]);
            fillLogits(h, logits, 0);
            int best = 0;
            for (int v = 1; v < VOCAB; v++) if (logits[v] > logits[best]) best = v;
            out.add(best);
            all[len++] = best;
            if ((!ignoreEos && best == EOS) || (maxTokens > 0 && out.size() >= maxTokens) || len > ctx) break;
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Ids map to letters: 1 -> 'b', 2 -> 'c', ... (id % 26); EOS decodes to nothing. */
    static final class FakeTokenizer implements Tokenizer {
        /** A token id whose isEog check throws (tests failures outside the forward pass); -1 = none. */
        volatile int poison = -1;

        @Override public int[] encode(String text, boolean addSpecial, boolean parseSpecial) {
            int[] ids = new int[text.length()];
            for (int i = 0; i < ids.length; i++) ids[i] = text.charAt(i) - 'a';
            return ids;
        }
        @Override public int vocabSize() { return VOCAB; }
        @Override public String tokenText(int id) { return id == EOS ? "</s>" : String.valueOf((char) ('a' + id % 26)); }
        @Override public byte[] tokenBytes(int id) { return id == EOS ? new byte[0] : tokenText(id).getBytes(StandardCharsets.UTF_8); }
        @Override public String decode(int[] ids) {
            StringBuilder sb = new StringBuilder();
            for (int id : ids) sb.append(new String(tokenBytes(id), StandardCharsets.UTF_8));
            return sb.toString();
        }
        @Override public int bos() { return -1; }
        @Override public int eos() { return EOS; }
        @Override public boolean addBos() { return false; }
        @Override public boolean addEos() { return false; }
        @Override public boolean isEog(int id) {
            if (id == poison) throw new IllegalStateException("poisoned token " + id);
            return id == EOS;
        }
        @Override public boolean isControl(int id) { return id == EOS; }
    }
}
