package io.sluice.bench;

import io.sluice.engine.BatchedBench;
import io.sluice.gguf.GGUFFile;
import io.sluice.grammar.Grammar;
import io.sluice.grammar.GrammarMatcher;
import io.sluice.grammar.JsonSchemaGrammar;
import io.sluice.grammar.TokenGrammar;
import io.sluice.grammar.TokenVocabulary;
import io.sluice.model.tokenizer.Tokenizer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Token-mask computation at a Qwen3-sized vocabulary (151,936 tokens): the masks along a real
 * generation of a document for the 10-property schema of {@code sluice bench --batched
 * --json-schema} (and for "any JSON object"), one mask per invocation, in sample mode for the
 * percentiles. The per-grammar position cache is warm (filled in setup, as after the first request
 * with a schema); memo=0 measures every mask computed from it, memo=1024 with the mask memo.
 *
 * <p>The vocabulary: the real byte-level BPE tokens of the fixture vocabularies when
 * ../shared/fixtures is there (deepseek-llm, gpt-2, starcoder, falcon), topped up with made-up
 * word, code, number and CJK pieces to 151,936; made up entirely otherwise.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx2g"})
public class GrammarMaskBench {
    static final int VOCAB = 151_936;
    static final String DOCUMENT = "{\"name\": \"Alice Smith\", \"age\": 42, \"email\": \"alice@example.com\", \"active\": true, "
            + "\"score\": 3.25, \"tags\": [\"admin\", \"ops\", \"on call\"], \"role\": \"user\", "
            + "\"address\": {\"city\": \"Paris\", \"zip\": \"75001\"}, \"created\": \"2024-05-17\", "
            + "\"note\": \"Prefers \\\"email\\\" over phone; \\u00e9t\\u00e9 2023.\"}";

    @Param({"ten-properties", "json-object"})
    public String grammar;

    @Param({"0", "1024"})
    public int memo;

    private GrammarMatcher[] states;
    private long[] mask;
    private int next;

    @Setup(Level.Trial)
    public void setup() {
        TokenVocabulary vocab = vocabulary();
        Grammar g = grammar.equals("json-object") ? JsonSchemaGrammar.anyObject() : JsonSchemaGrammar.fromSchema(BatchedBench.TEN_PROPERTY_SCHEMA);
        TokenGrammar tg = TokenGrammar.compile(g, vocab, memo);
        states = statesAlong(tg, DOCUMENT.getBytes(StandardCharsets.UTF_8), TOKENS);
        mask = new long[tg.maskWords()];
        for (GrammarMatcher m : states) m.fillMask(mask); // fill the position cache
    }

    @Benchmark
    public long mask() {
        GrammarMatcher m = states[next];
        next = next + 1 == states.length ? 0 : next + 1;
        m.fillMask(mask);
        return mask[0];
    }

    private static byte[][] TOKENS;

    static synchronized TokenVocabulary vocabulary() {
        if (TOKENS == null) TOKENS = tokens();
        BitSet eog = new BitSet();
        eog.set(TOKENS.length - 1);
        return TokenVocabulary.of(TOKENS, eog);
    }

    /**
     * The matcher after each token of a greedy longest-match tokenization of doc that the grammar
     * allows (each state copied by replaying, since matchers move).
     */
    static GrammarMatcher[] statesAlong(TokenGrammar tg, byte[] doc, byte[][] toks) {
        List<Integer> path = new ArrayList<>();
        GrammarMatcher m = tg.newMatcher();
        int at = 0;
        while (at < doc.length) {
            int best = -1;
            for (int t = 0; t < toks.length; t++) {
                byte[] b = toks[t];
                if (b.length > 0 && (best < 0 || b.length > toks[best].length) && at + b.length <= doc.length
                        && Arrays.equals(b, 0, b.length, doc, at, at + b.length) && m.allows(t)) best = t;
            }
            if (best < 0) throw new IllegalStateException("the grammar rejects the document at byte " + at);
            m.accept(best);
            path.add(best);
            at += toks[best].length;
        }
        GrammarMatcher[] out = new GrammarMatcher[path.size() + 1];
        for (int i = 0; i <= path.size(); i++) {
            GrammarMatcher s = tg.newMatcher();
            for (int k = 0; k < i; k++) s.accept(path.get(k));
            out[i] = s;
        }
        return out;
    }

    static byte[][] tokens() {
        Set<String> seen = new HashSet<>();
        List<byte[]> out = new ArrayList<>();
        for (int b = 0; b < 256; b++) add(out, seen, new byte[]{(byte) b});
        Path dir = Path.of("../shared/fixtures/vocab");
        if (!Files.isDirectory(dir)) dir = Path.of("../../shared/fixtures/vocab");
        for (String name : new String[]{"deepseek-llm", "gpt-2", "starcoder", "falcon"}) {
            Path p = dir.resolve("ggml-vocab-" + name + ".gguf");
            if (!Files.exists(p)) continue;
            try (GGUFFile f = GGUFFile.open(p)) {
                Tokenizer t = Tokenizer.fromGGUF(f);
                for (int id = 0; id < t.vocabSize() && out.size() < VOCAB - 1; id++) add(out, seen, t.tokenBytes(id));
            }
        }
        SplittableRandom rng = new SplittableRandom(151_936);
        String[] syll = {"an", "er", "in", "on", "at", "es", "or", "ti", "ma", "ke", "lo", "ru", "po", "si", "qu", "th", "st", "ng", "de", "va"};
        String[] punct = {"", ",", ".", "\"", "\":", "\",", "\")", "\"}", "()", "(\"", "=\"", "_", "-", "/", ";", "\n", "'"};
        while (out.size() < VOCAB - 1) {
            int kind = rng.nextInt(10);
            String s;
            if (kind < 6) {
                StringBuilder w = new StringBuilder(rng.nextBoolean() ? " " : "");
                for (int k = 1 + rng.nextInt(4); k > 0; k--) w.append(syll[rng.nextInt(syll.length)]);
                if (rng.nextInt(4) == 0) w.setCharAt(w.charAt(0) == ' ' ? 1 : 0, Character.toUpperCase(w.charAt(w.charAt(0) == ' ' ? 1 : 0)));
                s = w + punct[rng.nextInt(punct.length)];
            } else if (kind < 7) {
                s = (rng.nextBoolean() ? " " : "") + rng.nextInt(10_000);
            } else if (kind < 9) {
                StringBuilder w = new StringBuilder();
                for (int k = 1 + rng.nextInt(3); k > 0; k--) w.appendCodePoint(0x4E00 + rng.nextInt(0x5000));
                s = w.toString();
            } else {
                s = " ".repeat(rng.nextInt(1, 16)) + punct[rng.nextInt(punct.length)];
            }
            add(out, seen, s.getBytes(StandardCharsets.UTF_8));
        }
        out.add(new byte[0]); // the end-of-generation token
        return out.toArray(new byte[0][]);
    }

    private static void add(List<byte[]> out, Set<String> seen, byte[] b) {
        if (b.length == 0 || out.size() >= VOCAB - 1) return;
        if (seen.add(new String(b, StandardCharsets.ISO_8859_1))) out.add(b);
    }
}
