package io.sluice.engine;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;

import static io.sluice.engine.FakeEngines.assertNoBlockHeld;
import static io.sluice.engine.FakeEngines.config;
import static io.sluice.engine.FakeEngines.greedy;
import static io.sluice.engine.FakeEngines.randomPrompt;
import static org.junit.jupiter.api.Assertions.*;

/** The engine loop, scheduler and KV bookkeeping against {@link FakeModel}, whose exact outputs are known. */
class LlmEngineTest {
    @Test
    void greedyOutputIsTheSameAloneAndAmongSixteenConcurrentRequests() throws Exception {
        Random r = new Random(1);
        int[][] prompts = new int[16][];
        for (int i = 0; i < 16; i++) prompts[i] = randomPrompt(r, 1 + r.nextInt(60), 63);
        int[][] alone = new int[16][];
        for (int i = 0; i < 16; i++) {
            try (LlmEngine e = new LlmEngine(new FakeModel(128), config(64, 32, 6, 64, 128))) {
                Collector c = new Collector();
                e.submit(greedy(prompts[i], 24, false), c);
                c.await();
                alone[i] = c.idArray();
                assertArrayEquals(FakeModel.expectedGreedy(prompts[i], 24, 128, false), alone[i], "request " + i + " alone");
            }
        }
        FakeModel model = new FakeModel(128);
        model.delayNanos = 200_000;
        // 6 running at most, 32 tokens per step, a pool too small for all: chunking, queueing, preemption.
        try (LlmEngine e = new LlmEngine(model, config(40, 32, 6, 64, 128))) {
            Collector[] cs = new Collector[16];
            for (int i = 0; i < 16; i++) {
                Thread.sleep(r.nextInt(3));
                cs[i] = new Collector();
                e.submit(greedy(prompts[i], 24, false), cs[i]);
            }
            for (int i = 0; i < 16; i++) {
                assertNotEquals(FinishReason.ERROR, cs[i].await().reason(), () -> "" + cs[0].finished);
                assertArrayEquals(alone[i], cs[i].idArray(), "request " + i + " among 16");
            }
            assertTrue(e.metrics().steps() < 16 * 25, "requests were batched together: " + e.metrics().steps() + " steps");
        }
    }

    @Test
    void aSharedPrefixIsComputedOnce() throws Exception {
        Random r = new Random(2);
        int[] prefix = randomPrompt(r, 256, 63);
        int[] a = IntStream.concat(Arrays.stream(prefix), Arrays.stream(randomPrompt(r, 10, 63))).toArray();
        int[] b = IntStream.concat(Arrays.stream(prefix), Arrays.stream(randomPrompt(r, 7, 63))).toArray();
        int[] bAlone;
        try (LlmEngine e = new LlmEngine(new FakeModel(512), config(200, 64, 4, 8, 512))) {
            Collector c = new Collector();
            e.submit(greedy(b, 8, true), c);
            c.await();
            bAlone = c.idArray();
            assertEquals(b.length, e.metrics().computedPromptTokens());
        }
        try (LlmEngine e = new LlmEngine(new FakeModel(512), config(200, 64, 4, 8, 512))) {
            Collector ca = new Collector();
            e.submit(greedy(a, 8, true), ca);
            ca.await();
            long before = e.metrics().computedPromptTokens();
            assertEquals(a.length, before);
            Collector cb = new Collector();
            e.submit(greedy(b, 8, true), cb);
            GenerationEvent.Finished f = cb.await();
            assertEquals(7, e.metrics().computedPromptTokens() - before, "only the 7 new tokens are computed");
            assertEquals(256, f.usage().cachedPromptTokens());
            assertEquals(256, e.metrics().prefixCacheHitTokens());
            assertArrayEquals(bAlone, cb.idArray(), "output unchanged by the cache");
        }
    }

    @Test
    void thousandRandomRequestsWithCancellationsAndPreemptionsLoseNothingAndLeakNoBlock() throws Exception {
        Random r = new Random(3);
        int ctx = 48;
        FakeModel model = new FakeModel(ctx);
        // 20 blocks of 4 = 80 positions for up to 8 sequences of up to 48: preemption is certain.
        LlmEngine e = new LlmEngine(model, config(20, 16, 8, 2000, ctx));
        FakeEngines.Soak soak = FakeEngines.thousandRandomRequests(e, r, ctx);
        EngineMetrics m = e.metrics();
        assertTrue(soak.cancelled() > 0, "some requests were cancelled");
        assertTrue(m.preemptions() > 0, "the tiny pool forced preemptions");
        assertTrue(m.prefixCacheHitTokens() > 0, "shared prefixes were reused");
        assertEquals(soak.collectors().length, m.requestsFinished());
        e.close();
        for (Collector c : soak.collectors()) assertEquals(0, c.eventsAfterFinish, "nothing after Finished");
        assertNoBlockHeld(e.blockManager());
        assertEquals(0, e.metrics().runningSeqs());
        assertEquals(0, e.metrics().waitingSeqs());
    }

    /**
     * Sliding-window layers (a window of 5 and one of 9 beside the full-attention layer): a long
     * sequence holds only the windows' blocks in their groups while decoding - the model checks
     * every step that each window's positions are still there - and the output is unchanged.
     */
    @Test
    void slidingWindowLayersHoldOnlyTheirWindowsBlocks() throws Exception {
        int ctx = 256;
        FakeModel model = FakeModel.windowed(ctx, 5, 9);
        assertEquals(3, model.kvLayout().groups().size(), "full attention, window 5, window 9");
        int[] peak = new int[1];
        try (LlmEngine e = new LlmEngine(model, config(200, 32, 4, 8, ctx))) {
            // Called on the engine thread before each step: what the decoding sequence holds then.
            model.failWhen = b -> {
                if (b.size == 1) peak[0] = Math.max(peak[0], e.blockManager().usedBlocks());
                return false;
            };
            int[] prompt = randomPrompt(new Random(4), 150, 63);
            Collector c = new Collector();
            e.submit(greedy(prompt, 60, true), c);
            assertEquals(FinishReason.LENGTH, c.await().reason(), () -> c.finished.message());
            assertArrayEquals(FakeModel.expectedGreedy(prompt, 60, ctx, true), c.idArray());
            // Positions up to 208: 53 blocks of 4 of full attention; windows of 5 and 9 span 2 and 3 blocks at most.
            assertEquals(53 + 2 + 3, peak[0], "instead of 3 x 53 with every block kept");
            assertEquals(0, e.blockManager().usedBlocks(), "everything back once it finished");
        }
    }

    /** Concurrent sequences, chunked prefill, preemption and prefix sharing, with sliding-window groups. */
    @Test
    void slidingWindowGroupsKeepOutputsUnderPreemptionAndPrefixSharing() throws Exception {
        Random r = new Random(5);
        int ctx = 96;
        FakeModel model = FakeModel.windowed(ctx, 6, 11);
        model.delayNanos = 100_000;
        int n = 60;
        int[][] prompts = new int[n][];
        int[] prefix = randomPrompt(r, 40, 63);
        for (int i = 0; i < n; i++) {
            int[] own = randomPrompt(r, 1 + r.nextInt(30), 63);
            prompts[i] = i % 2 == 0 ? IntStream.concat(Arrays.stream(prefix), Arrays.stream(own)).toArray() : own;
        }
        // 60 blocks of 4 for 6 running sequences of up to 96 positions in 3 groups: preemption is certain.
        try (LlmEngine e = new LlmEngine(model, config(60, 24, 6, 100, ctx))) {
            Collector[] cs = new Collector[n];
            for (int i = 0; i < n; i++) {
                cs[i] = new Collector();
                e.submit(greedy(prompts[i], 20, true), cs[i]);
            }
            for (int i = 0; i < n; i++) {
                int k = i;
                assertEquals(FinishReason.LENGTH, cs[i].await().reason(), () -> cs[k].finished.message());
                assertArrayEquals(FakeModel.expectedGreedy(prompts[i], 20, ctx, true), cs[i].idArray(), "request " + i);
            }
            EngineMetrics m = e.metrics();
            assertTrue(m.preemptions() > 0, "the small pool forced preemptions");
            assertTrue(m.prefixCacheHitTokens() > 0, "the shared prefix was reused");
            e.close();
            e.blockManager().checkConsistency();
            assertEquals(0, e.blockManager().usedBlocks());
        }
    }

    @Test
    void promptsLongerThanTheContextAreRefusedAtSubmit() {
        try (LlmEngine e = new LlmEngine(new FakeModel(32), config(64, 16, 4, 8, 32))) {
            EngineException ex = assertThrows(EngineException.class, () -> e.submit(greedy(new int[33], 4, true), new Collector()));
            assertEquals(EngineException.Kind.CONTEXT_TOO_LONG, ex.kind());
            assertTrue(ex.getMessage().contains("33") && ex.getMessage().contains("32"), ex.getMessage());
        }
        // The pool caps the context too: 4 blocks of 4 positions.
        try (LlmEngine e = new LlmEngine(new FakeModel(128), config(4, 16, 4, 8, 128))) {
            assertEquals(16, e.contextLength());
            EngineException ex = assertThrows(EngineException.class, () -> e.submit(greedy(new int[17], 4, true), new Collector()));
            assertEquals(EngineException.Kind.CONTEXT_TOO_LONG, ex.kind());
        }
    }

    @Test
    void generationStopsWithLengthWhenTheContextIsFull() throws Exception {
        try (LlmEngine e = new LlmEngine(new FakeModel(32), config(64, 16, 4, 8, 32))) {
            int[] prompt = IntStream.rangeClosed(1, 20).toArray();
            Collector c = new Collector();
            e.submit(greedy(prompt, 0, true), c);
            assertEquals(FinishReason.LENGTH, c.await().reason());
            assertEquals(13, c.ids.size(), "positions 20..31 are fed back, the 13th token ends it");
            assertArrayEquals(FakeModel.expectedGreedy(prompt, 0, 32, true), c.idArray());
            Collector full = new Collector();
            e.submit(greedy(IntStream.rangeClosed(1, 32).toArray(), 0, true), full);
            assertEquals(FinishReason.LENGTH, full.await().reason());
            assertEquals(1, full.ids.size());
        }
    }

    @Test
    void maxTokensAndEosEndGenerations() throws Exception {
        try (LlmEngine e = new LlmEngine(new FakeModel(256), config(128, 16, 4, 8, 256))) {
            Collector c = new Collector();
            e.submit(greedy(new int[]{5, 6, 7}, 5, true), c);
            GenerationEvent.Finished f = c.await();
            assertEquals(FinishReason.LENGTH, f.reason());
            assertEquals(new Usage(3, 5, 0), f.usage());
            // Find a prompt whose greedy continuation hits EOS early, then check the engine stops there.
            Random r = new Random(4);
            for (int attempt = 0; attempt < 2000; attempt++) {
                int[] p = randomPrompt(r, 3, 63);
                int[] want = FakeModel.expectedGreedy(p, 0, 200, false);
                if (want[want.length - 1] != FakeModel.EOS || want.length > 100) continue;
                Collector s = new Collector();
                e.submit(greedy(p, 0, false), s);
                assertEquals(FinishReason.STOP, s.await().reason());
                assertArrayEquals(want, s.idArray());
                assertEquals("", s.tokens.getLast().text(), "EOS adds no text");
                return;
            }
            fail("no prompt reached EOS");
        }
    }

    @Test
    void stopStringsEndTheOutputAndAreNotEmitted() throws Exception {
        try (LlmEngine e = new LlmEngine(new FakeModel(256), config(128, 16, 4, 8, 256))) {
            // A prompt whose 30 tokens hold no EOS (EOS decodes to nothing): then one letter per token.
            Collector free = null;
            int[] prompt = null;
            for (int k = 1; k < 63; k++) {
                prompt = new int[]{3, 1, 4, 1, k};
                free = new Collector();
                e.submit(greedy(prompt, 30, true), free);
                free.await();
                if (!free.ids.contains(FakeModel.EOS)) break;
            }
            String full = free.text.toString();
            assertEquals(30, full.length(), "one letter per token");
            String stop = full.substring(10, 13);
            int at = full.indexOf(stop);
            Collector c = new Collector();
            e.submit(new GenerationRequest(prompt, SamplingParams.GREEDY, 30, List.of("zzzzzz", stop), true, -1), c);
            assertEquals(FinishReason.STOP, c.await().reason());
            assertEquals(full.substring(0, at), c.text.toString());
            assertEquals(at + stop.length(), c.ids.size(), "generation ends at the token completing the stop string");
        }
    }

    @Test
    void aThrowingListenerEndsOnlyItsOwnRequest() throws Exception {
        try (LlmEngine e = new LlmEngine(new FakeModel(256), config(128, 16, 4, 8, 256))) {
            AtomicInteger tokensSeen = new AtomicInteger();
            Collector bad = new Collector();
            Collector good = new Collector();
            e.submit(greedy(new int[]{1, 2, 3}, 20, true), ev -> {
                if (ev instanceof GenerationEvent.Token) {
                    tokensSeen.incrementAndGet();
                    throw new RuntimeException("client went away");
                }
                bad.accept(ev);
            });
            e.submit(greedy(new int[]{4, 5, 6}, 20, true), good);
            GenerationEvent.Finished f = bad.await();
            assertEquals(FinishReason.ERROR, f.reason());
            assertTrue(f.message().contains("client went away"), f.message());
            assertEquals(1, tokensSeen.get());
            assertEquals(FinishReason.LENGTH, good.await().reason());
            assertEquals(20, good.ids.size());
        }
    }

    @Test
    void aFailingStepFailsItsRequestsAndTheEngineKeepsServing() throws Exception {
        FakeModel model = new FakeModel(256);
        model.failWhen = b -> IntStream.range(0, b.size).anyMatch(i -> b.tokens[i] == 63);
        try (LlmEngine e = new LlmEngine(model, config(128, 16, 4, 8, 256))) {
            Collector poisoned = new Collector();
            e.submit(greedy(new int[]{1, 63, 2}, 5, true), poisoned);
            GenerationEvent.Finished f = poisoned.await();
            assertEquals(FinishReason.ERROR, f.reason());
            assertTrue(f.message().contains("injected failure"), f.message());
            Collector ok = new Collector();
            e.submit(greedy(new int[]{1, 2}, 5, true), ok);
            ok.await();
            if (ok.ids.contains(63)) return;   // the fake model may itself generate 63; then it fails too, legitimately
            assertEquals(FinishReason.LENGTH, ok.finished.reason());
            assertEquals(0, e.metrics().kvBlocksUsed());
        }
    }

    @Test
    void aTokenizerFailureEndsOnlyThatRequest() throws Exception {
        FakeModel model = new FakeModel(256);
        int[] prompt = {1, 2, 3};
        int poison = FakeModel.expectedGreedy(prompt, 1, 256, false)[0];
        model.tokenizer.poison = poison;
        try (LlmEngine e = new LlmEngine(model, config(128, 16, 4, 8, 256))) {
            Collector bad = new Collector();
            e.submit(greedy(prompt, 5, false), bad);   // the EOS check calls the tokenizer
            GenerationEvent.Finished f = bad.await();
            assertEquals(FinishReason.ERROR, f.reason());
            assertTrue(f.message().contains("poisoned token"), f.message());
            int[] other = {4, 4, 4};
            int[] want = FakeModel.expectedGreedy(other, 5, 256, false);
            if (Arrays.stream(want).anyMatch(t -> t == poison)) return;
            Collector ok = new Collector();
            e.submit(greedy(other, 5, false), ok);
            assertEquals(FinishReason.LENGTH, ok.await().reason());
            assertArrayEquals(want, ok.idArray());
            assertEquals(0, e.metrics().kvBlocksUsed());
        }
    }

    @Test
    void cancellationFreesTheBlocksAndFinishesWithCancelled() throws Exception {
        FakeModel model = new FakeModel(1024);
        model.delayNanos = 2_000_000;
        try (LlmEngine e = new LlmEngine(model, config(512, 16, 4, 8, 1024))) {
            Collector c = new Collector();
            GenerationHandle h = e.submit(greedy(IntStream.range(1, 40).toArray(), 0, true), c);
            while (e.metrics().generatedTokens() < 3) Thread.sleep(1);
            assertTrue(e.metrics().kvBlocksUsed() >= 10);
            h.cancel();
            assertEquals(FinishReason.CANCELLED, c.await().reason());
            assertTrue(h.isDone());
            assertEquals(0, e.metrics().kvBlocksUsed());
            assertTrue(e.metrics().kvBlocksCached() >= 9, "the computed full blocks stay cached");
            RequestTiming t = h.timing();
            assertNotNull(t);
            assertEquals(FinishReason.CANCELLED, t.reason());
            assertTrue(t.ttftSeconds() > 0 && t.e2eSeconds() >= t.ttftSeconds());
            assertEquals(c.ids.size() - 1, t.interTokenSeconds().length);
        }
    }

    @Test
    void theQueueRefusesRequestsBeyondItsLimit() throws Exception {
        FakeModel model = new FakeModel(1024);
        model.delayNanos = 5_000_000;
        try (LlmEngine e = new LlmEngine(model, config(256, 16, 1, 1, 1024))) {
            e.submit(greedy(new int[]{1}, 0, true), new Collector());
            while (e.metrics().runningSeqs() < 1) Thread.sleep(1);
            e.submit(greedy(new int[]{2}, 0, true), new Collector());
            EngineException ex = assertThrows(EngineException.class, () -> e.submit(greedy(new int[]{3}, 0, true), new Collector()));
            assertEquals(EngineException.Kind.QUEUE_FULL, ex.kind());
        }
    }

    @Test
    void closeCancelsEverythingAndRefusesNewRequests() throws Exception {
        FakeModel model = new FakeModel(1024);
        model.delayNanos = 1_000_000;
        LlmEngine e = new LlmEngine(model, config(256, 16, 2, 8, 1024));
        Collector[] cs = new Collector[4];
        for (int i = 0; i < 4; i++) {
            cs[i] = new Collector();
            e.submit(greedy(new int[]{i + 1}, 0, true), cs[i]);
        }
        Thread.sleep(20);
        e.close();
        for (Collector c : cs) assertEquals(FinishReason.CANCELLED, c.await().reason());
        EngineException ex = assertThrows(EngineException.class, () -> e.submit(greedy(new int[]{1}, 1, true), new Collector()));
        assertEquals(EngineException.Kind.SHUTDOWN, ex.kind());
    }

    @Test
    void timingHookSeesEveryRequest() throws Exception {
        try (LlmEngine e = new LlmEngine(new FakeModel(256), config(128, 16, 4, 8, 256))) {
            List<RequestTiming> seen = java.util.Collections.synchronizedList(new ArrayList<>());
            e.onRequestFinished(seen::add);
            Collector c = new Collector();
            GenerationHandle h = e.submit(greedy(new int[]{1, 2, 3}, 6, true), c);
            c.await();
            while (seen.isEmpty()) Thread.sleep(1);
            RequestTiming t = seen.getFirst();
            assertEquals(h.id(), t.requestId());
            assertEquals(new Usage(3, 6, 0), t.usage());
            assertEquals(5, t.interTokenSeconds().length);
            assertTrue(t.queueSeconds() >= 0 && t.ttftSeconds() >= t.queueSeconds());
        }
    }
}
