package io.sluice.engine;

import io.sluice.gguf.GGMLType;
import io.sluice.model.KvStore;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/** What the engine tests against {@link FakeModel} share: configs, greedy requests, the thousand-request soak, the leak check. */
final class FakeEngines {
    private FakeEngines() {
    }

    /** KV block size of {@link #config}. */
    static final int BS = 4;

    /** A pool of {@code blocks} f32 KV blocks of {@link #BS} positions for {@link FakeModel}. */
    static EngineConfig config(int blocks, int maxBatched, int maxSeqs, int maxQueue, int ctx) {
        FakeModel probe = new FakeModel(ctx);
        long kvBytes = blocks * KvStore.bytesPerBlock(probe.kvLayout(), BS, GGMLType.F32);
        return new EngineConfig(kvBytes, 0, BS, GGMLType.F32, maxBatched, maxSeqs, maxQueue, ctx);
    }

    static GenerationRequest greedy(int[] prompt, int maxTokens, boolean ignoreEos) {
        return new GenerationRequest(prompt, SamplingParams.GREEDY, maxTokens, List.of(), ignoreEos, -1);
    }

    static int[] randomPrompt(Random r, int len, int alphabet) {
        return r.ints(len, 1, 1 + alphabet).toArray();
    }

    /** The requests of {@link #thousandRandomRequests}, and how many of them ended cancelled. */
    record Soak(Collector[] collectors, int cancelled) {
    }

    /**
     * Submits 1000 greedy requests with short prompts over a tiny alphabet (shared prefixes), cancels
     * about one in five of those submitted so far at random, and checks that every request not
     * cancelled got {@link FakeModel}'s exact greedy output and usage.
     */
    static Soak thousandRandomRequests(LlmEngine e, Random r, int ctx) throws InterruptedException {
        int n = 1000;
        Collector[] cs = new Collector[n];
        int[][] prompts = new int[n][];
        int[] maxTokens = new int[n];
        boolean[] ignoreEos = new boolean[n];
        List<GenerationHandle> handles = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            prompts[i] = randomPrompt(r, 1 + r.nextInt(20), 3);
            maxTokens[i] = 1 + r.nextInt(16);
            ignoreEos[i] = r.nextBoolean();
            cs[i] = new Collector();
            handles.add(e.submit(greedy(prompts[i], maxTokens[i], ignoreEos[i]), cs[i]));
            if (r.nextInt(5) == 0) handles.get(r.nextInt(handles.size())).cancel();
            if (i % 50 == 0) Thread.sleep(1);
        }
        int cancelled = 0;
        for (int i = 0; i < n; i++) {
            GenerationEvent.Finished f = cs[i].await();
            assertNotEquals(FinishReason.ERROR, f.reason(), f.message());
            if (f.reason() == FinishReason.CANCELLED) {
                cancelled++;
                continue;
            }
            int[] want = FakeModel.expectedGreedy(prompts[i], maxTokens[i], ctx, ignoreEos[i]);
            assertArrayEquals(want, cs[i].idArray(), "request " + i);
            assertEquals(want.length, f.usage().completionTokens());
        }
        return new Soak(cs, cancelled);
    }

    /** Every block of the pool is free again, with consistent bookkeeping. */
    static void assertNoBlockHeld(KvCacheManager blocks) {
        blocks.checkConsistency();
        assertEquals(0, blocks.usedBlocks());
        for (int b = 0; b < blocks.numBlocks(); b++) assertEquals(0, blocks.refCount(b), "block " + b);
    }
}
