package io.sluice.engine;

import io.sluice.Fixtures;
import io.sluice.gguf.GGMLType;
import io.sluice.model.Batch;
import io.sluice.model.KvStore;
import io.sluice.model.Model;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.*;

/** The engine over real GGUF models from the shared fixtures. */
class RealModelEngineTest {
    private static Model stories;

    @BeforeAll
    static void load() {
        stories = Model.load(Fixtures.model("stories260K.gguf"));
    }

    @AfterAll
    static void unload() {
        if (stories != null) stories.close();
    }

    private static EngineConfig config(GGMLType kvType, int maxBatched, int maxSeqs) {
        return new EngineConfig(0, 0, 16, kvType, maxBatched, maxSeqs, 256, 512);
    }

    private static GenerationRequest greedy(int[] prompt, int n) {
        return new GenerationRequest(prompt, SamplingParams.GREEDY, n, List.of(), true, -1);
    }

    private record Expected(String file, int[] prompt, int[] generated, String text) {
    }

    /** stories260K-greedy.txt: "== FILE | PROMPT", prompt_ids, generated_ids, text (may span lines). */
    private static List<Expected> greedyFixture() throws IOException {
        String all = Files.readString(Fixtures.model("stories260K-greedy.txt"));
        List<Expected> out = new ArrayList<>();
        for (String block : all.split("(?m)^== ")) {
            if (block.isBlank()) continue;
            String file = block.substring(0, block.indexOf(" |"));
            int[] prompt = ids(block, "prompt_ids: ");
            int[] gen = ids(block, "generated_ids: ");
            String text = block.substring(block.indexOf("text:") + 5);
            if (text.endsWith("\n")) text = text.substring(0, text.length() - 1);
            out.add(new Expected(file, prompt, gen, text));
        }
        return out;
    }

    private static int[] ids(String block, String key) {
        int at = block.indexOf(key) + key.length();
        String line = block.substring(at, block.indexOf('\n', at)).trim();
        return Arrays.stream(line.split(" ")).mapToInt(Integer::parseInt).toArray();
    }

    @Test
    void concurrentGreedyRequestsReproduceLlamaCppTokenForToken() throws Exception {
        List<Expected> cases = greedyFixture().stream().filter(c -> c.file().equals("stories260K.gguf")).toList();
        assertEquals(3, cases.size());
        try (LlmEngine e = new LlmEngine(stories, config(GGMLType.F32, 64, 8))) {
            List<Collector> cs = new ArrayList<>();
            for (Expected c : cases) {
                Collector col = new Collector();
                e.submit(greedy(c.prompt(), c.generated().length), col);
                cs.add(col);
            }
            for (int i = 0; i < cases.size(); i++) {
                assertEquals(FinishReason.LENGTH, cs.get(i).await().reason());
                assertArrayEquals(cases.get(i).generated(), cs.get(i).idArray(), cases.get(i).file() + " case " + i);
                assertEquals(cases.get(i).text(), cs.get(i).text.toString(), "streamed text of case " + i);
            }
        }
    }

    /**
     * stories260K and every new architecture's tiny fixture (q8_0: the native kernels, gemma's
     * windows, phi3's fused tensors, the MoE models' expert grouping, which must not change results...).
     */
    static List<String> invarianceModels() {
        List<String> files = new ArrayList<>(List.of("stories260K.gguf"));
        for (String arch : new String[]{"qwen3", "gemma3", "gemma2", "phi3", "llama3", "mistral3", "olmo2", "granite", "smollm3",
                "qwen3moe", "gpt-oss"}) {
            files.add("tiny-" + arch + "-q8_0.gguf");
        }
        return files;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("invarianceModels")
    void greedyOutputIsTheSameAloneAndAmongSixteenConcurrentRequests(String file) throws Exception {
        try (Model m = Model.load(Fixtures.model(file))) {
            Random r = new Random(11);
            int vocab = m.config().vocabSize();
            int[][] prompts = new int[16][];
            for (int i = 0; i < 16; i++) {
                prompts[i] = r.ints(2 + r.nextInt(90), 3, vocab).toArray();
                prompts[i][0] = 1;   // BOS
            }
            int n = 24;
            int[][] alone = new int[16][];
            try (LlmEngine e = new LlmEngine(m, config(GGMLType.F16, 64, 1))) {
                for (int i = 0; i < 16; i++) {
                    Collector c = new Collector();
                    e.submit(greedy(prompts[i], n), c);
                    c.await();
                    alone[i] = c.idArray();
                }
            }
            // Tiny pool (30 blocks of 16 for up to 16 x 116 positions), all submitted at once: chunked
            // prefill, queueing and preemption even when a step takes well under a millisecond.
            long pool = 30 * KvStore.bytesPerBlock(m.kvLayout(), 16, GGMLType.F16);
            EngineConfig tight = new EngineConfig(pool, 0, 16, GGMLType.F16, 48, 16, 64, 512);
            try (LlmEngine e = new LlmEngine(m, tight)) {
                Collector[] cs = new Collector[16];
                for (int i = 0; i < 16; i++) {
                    cs[i] = new Collector();
                    e.submit(greedy(prompts[i], n), cs[i]);
                }
                for (int i = 0; i < 16; i++) {
                    assertEquals(FinishReason.LENGTH, cs[i].await().reason());
                    assertArrayEquals(alone[i], cs[i].idArray(), file + " request " + i);
                }
                assertTrue(e.metrics().preemptions() > 0, "the tight pool forced preemptions");
            }
        }
    }

    /**
     * Gemma 3 (5 layers with an 8-token window, 1 global) and Gemma 2 (1 and 1): a sequence of 256
     * positions holds only the windows' blocks in the sliding-window groups, and its greedy output
     * is the same as with every position kept (the same chunks over contiguous full tables).
     */
    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"tiny-gemma3-q8_0.gguf", "tiny-gemma2-q8_0.gguf"})
    void aLongSlidingWindowSequenceHoldsOnlyItsWindowsBlocks(String file) throws Exception {
        try (Model m = Model.load(Fixtures.model(file))) {
            var layout = m.kvLayout();
            int local = (int) layout.layers().stream().filter(l -> l.window() == 8).count();
            assertEquals(layout.size() - 1, local, "all layers but one have the 8-token window");
            assertEquals(layout.size(), layout.groups().size(), "one layer per group");
            int[] prompt = new Random(14).ints(200, 3, m.config().vocabSize()).toArray();
            prompt[0] = 1;
            int n = 56, chunk = 64;
            int[] want = fullCacheGreedy(m, prompt, n, chunk);
            int[] peak = new int[1];
            try (LlmEngine e = new LlmEngine(m, new EngineConfig(0, 0, 16, GGMLType.F16, chunk, 1, 4, 512))) {
                Collector c = new Collector();
                e.submit(greedy(prompt, n), ev -> {
                    // Delivered after the step: the gauge shows what the sequence held for it.
                    if (ev instanceof GenerationEvent.Token) peak[0] = Math.max(peak[0], e.metrics().kvBlocksUsed());
                    c.accept(ev);
                });
                assertEquals(FinishReason.LENGTH, c.await().reason());
                assertArrayEquals(want, c.idArray(), file + ": the same tokens as with the full cache");
            }
            // Decoding up to position 254: 16 blocks of 16 in the global layer, an 8-token window spans 2.
            assertEquals(16 + 2 * local, peak[0], "instead of " + 16 * layout.size() + " with every block kept");
        }
    }

    /** Greedy decoding over full contiguous block tables in the engine's chunks: prompt chunks, then one token a step. */
    private static int[] fullCacheGreedy(Model m, int[] prompt, int n, int chunk) {
        int vocab = m.config().vocabSize(), blocks = (prompt.length + n + 15) / 16;
        int[][] tables = m.kvLayout().contiguousTables(blocks);
        int[] out = new int[n];
        float[] logits = new float[vocab];
        try (KvStore kv = new KvStore(m.kvLayout(), tables.length * blocks, 16, GGMLType.F16)) {
            for (int at = 0; at < prompt.length; at += chunk) {
                m.forward(Batch.single(Arrays.copyOfRange(prompt, at, Math.min(prompt.length, at + chunk)), at, false, tables), kv, logits);
            }
            for (int i = 0; i < n; i++) {
                int best = 0;
                for (int v = 1; v < vocab; v++) if (logits[v] > logits[best]) best = v;
                out[i] = best;
                if (i + 1 < n) m.forward(Batch.single(new int[]{best}, prompt.length + i, false, tables), kv, logits);
            }
        }
        return out;
    }

    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"stories260K.gguf", "tiny-qwen3moe-q8_0.gguf", "tiny-gpt-oss-q8_0.gguf",
            "tiny-gemma3-q8_0.gguf", "tiny-gemma2-q8_0.gguf"})
    void aShared256TokenPrefixIsComputedOnce(String file) throws Exception {
        try (Model m = file.equals("stories260K.gguf") ? null : Model.load(Fixtures.model(file))) {
            Model model = m != null ? m : stories;
            Random r = new Random(12);
            int[] prefix = r.ints(256, 3, 512).toArray();
            prefix[0] = 1;
            int[] a = IntStream.concat(Arrays.stream(prefix), r.ints(9, 3, 512)).toArray();
            int[] b = IntStream.concat(Arrays.stream(prefix), r.ints(13, 3, 512)).toArray();
            int[] bAlone;
            try (LlmEngine e = new LlmEngine(model, config(GGMLType.F16, 128, 4))) {
                Collector c = new Collector();
                e.submit(greedy(b, 16), c);
                c.await();
                bAlone = c.idArray();
            }
            try (LlmEngine e = new LlmEngine(model, config(GGMLType.F16, 128, 4))) {
                Collector ca = new Collector();
                e.submit(greedy(a, 16), ca);
                ca.await();
                long before = e.metrics().computedPromptTokens();
                Collector cb = new Collector();
                e.submit(greedy(b, 16), cb);
                GenerationEvent.Finished f = cb.await();
                assertEquals(13, e.metrics().computedPromptTokens() - before);
                assertEquals(256, f.usage().cachedPromptTokens());
                assertArrayEquals(bAlone, cb.idArray(), file);
            }
        }
    }

    /**
     * A memory budget below the MoE model's weights: the engine still starts, the model keeps only
     * about what the plan leaves for weights resident (its cold experts dropped from the process),
     * and its output is the same as with every expert in memory.
     */
    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"tiny-qwen3moe-q8_0.gguf", "tiny-gpt-oss-mxfp4_moe.gguf"})
    void aMixtureOfExpertsRunsInABudgetBelowItsWeights(String file) throws Exception {
        Random r = new Random(13);
        int[][] prompts = new int[6][];
        for (int i = 0; i < prompts.length; i++) {
            prompts[i] = r.ints(3 + r.nextInt(40), 3, 512).toArray();
            prompts[i][0] = 1;
        }
        int[][] want = new int[prompts.length][];
        try (Model m = Model.load(Fixtures.model(file)); LlmEngine e = new LlmEngine(m, config(GGMLType.F16, 64, 4))) {
            assertEquals(m.weightBytes(), e.memoryPlan().weightBytes());
            for (int i = 0; i < prompts.length; i++) {
                Collector c = new Collector();
                e.submit(greedy(prompts[i], 20), c);
                c.await();
                want[i] = c.idArray();
            }
        }
        try (Model m = Model.load(Fixtures.model(file))) {
            long full = m.weightBytes(), min = m.minimumResidentWeightBytes();
            assertTrue(min < full, "a mixture of experts can leave experts on disk: " + min + " of " + full);
            EngineConfig probe = config(GGMLType.F16, 64, 4);
            long act = MemoryPlan.activationBytes(probe, m), pool = 40 * KvStore.bytesPerBlock(m.kvLayout(), 16, GGMLType.F16);
            // Room for the minimum plus about two more experts per layer, not for all of them.
            long budget = min + act + pool + (full - min) / 4;
            EngineConfig tight = new EngineConfig(pool, budget, 16, GGMLType.F16, 64, 4, 64, 0);
            try (LlmEngine e = new LlmEngine(m, tight)) {
                long weights = e.memoryPlan().weightBytes();
                assertTrue(weights < full && weights >= min, "planned resident weights " + weights + " of " + full);
                Collector[] cs = new Collector[prompts.length];
                for (int i = 0; i < prompts.length; i++) {
                    cs[i] = new Collector();
                    e.submit(greedy(prompts[i], 20), cs[i]);
                }
                for (int i = 0; i < prompts.length; i++) {
                    assertEquals(FinishReason.LENGTH, cs[i].await().reason());
                    assertArrayEquals(want[i], cs[i].idArray(), file + " request " + i + " under the budget");
                }
                long resident = m.residentWeightBytes();
                assertTrue(resident <= weights, "resident " + resident + " within the plan's " + weights);
                assertTrue(resident >= min, "at least the last step's experts of every layer are in: " + resident + " >= " + min);
            }
        }
    }

    @Test
    void q8KvCacheKeepsTinyLlamaLogitsWithinTolerance() throws IOException {
        Path dir = Fixtures.dir().resolve("models");
        int[] prompt = Arrays.stream(Files.readString(dir.resolve("prompt-tokens.txt")).trim().split("\\s*,\\s*"))
                .mapToInt(Integer::parseInt).toArray();
        assertEquals(32, prompt.length);
        ByteBuffer ref = ByteBuffer.wrap(Files.readAllBytes(dir.resolve("tiny-llama-f32.logits.f32"))).order(ByteOrder.LITTLE_ENDIAN);
        try (Model m = Model.load(dir.resolve("tiny-llama-f32.gguf"))) {
            int vocab = m.config().vocabSize();
            assertEquals(32 * vocab * 4, ref.capacity());
            EngineConfig cfg = new EngineConfig(0, 0, 16, GGMLType.Q8_0, 32, 1, 1, 0);
            KvCacheManager blocks = new KvCacheManager(MemoryPlan.of(cfg, m).numBlocks(), 16);
            BlockTable table = new BlockTable();
            assertTrue(blocks.grow(table, 32));
            float[] logits = new float[32 * vocab];
            try (KvStore kv = new KvStore(m.kvLayout(), blocks.numBlocks(), 16, GGMLType.Q8_0)) {
                // Two chunks, so the second half reads the first half's keys back from the q8_0 cache.
                m.forward(chunk(prompt, 0, 16, table), kv, logits);
                float[] second = new float[16 * vocab];
                m.forward(chunk(prompt, 16, 16, table), kv, second);
                System.arraycopy(second, 0, logits, 16 * vocab, 16 * vocab);
            }
            double max = 0, sum = 0;
            for (int i = 0; i < logits.length; i++) {
                double d = Math.abs(logits[i] - ref.getFloat(i * 4));
                max = Math.max(max, d);
                sum += d;
            }
            assertTrue(max <= 0.15, "max abs diff " + max);
            assertTrue(sum / logits.length <= 0.03, "mean abs diff " + sum / logits.length);
            assertTrue(max > 0, "q8_0 rounding shows up somewhere (the cache really was q8_0)");
        }
    }

    private static Batch chunk(int[] tokens, int start, int n, BlockTable table) {
        Batch b = new Batch(n, 1);
        int s = b.addSequence(table.arrays());
        for (int i = 0; i < n; i++) b.add(tokens[start + i], start + i, s, true);
        return b;
    }
}
