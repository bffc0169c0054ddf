package io.sluice.engine;

import io.sluice.gguf.GGMLType;
import io.sluice.model.KvStore;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class MemoryPlanTest {
    private final FakeModel cfg = new FakeModel(2048);

    /** The fake model with this many bytes of weights. */
    private static FakeModel weighing(long weightBytes) {
        FakeModel m = new FakeModel(2048);
        m.weightBytes = weightBytes;
        return m;
    }

    private static EngineConfig cfg(long kv, long budget, GGMLType type) {
        return new EngineConfig(kv, budget, 16, type, 256, 8, 64, 0);
    }

    @Test
    void theBudgetLeftAfterWeightsAndActivationsBecomesThePool() {
        long budget = 64L << 20, weights = 20L << 20;
        MemoryPlan p = MemoryPlan.of(cfg(0, budget, GGMLType.F16), weighing(weights));
        assertTrue(p.totalBytes() <= budget, "never over budget: " + p.totalBytes());
        assertTrue(budget - p.totalBytes() < p.bytesPerBlock(), "and no whole block is left unused");
        assertEquals(KvStore.bytesPerBlock(cfg.kvLayout(), 16, GGMLType.F16), p.bytesPerBlock());
        assertEquals(2048, p.contextLength());
    }

    @Test
    void q8KvFitsMoreBlocksThanF16InTheSameBudget() {
        MemoryPlan f16 = MemoryPlan.of(cfg(0, 64L << 20, GGMLType.F16), weighing(0));
        MemoryPlan q8 = MemoryPlan.of(cfg(0, 64L << 20, GGMLType.Q8_0), weighing(0));
        assertTrue(q8.numBlocks() > f16.numBlocks() * 3 / 2);
    }

    @Test
    void anExplicitPoolIsUsedAndCheckedAgainstTheBudget() {
        long perBlock = KvStore.bytesPerBlock(cfg.kvLayout(), 16, GGMLType.F32);
        MemoryPlan p = MemoryPlan.of(cfg(perBlock * 100, 0, GGMLType.F32), weighing(1 << 20));
        assertEquals(100, p.numBlocks());
        EngineException e = assertThrows(EngineException.class, () -> MemoryPlan.of(cfg(perBlock * 100_000, 8L << 20, GGMLType.F32), weighing(1 << 20)));
        assertTrue(e.getMessage().contains("exceed the memory budget"), e.getMessage());
    }

    @Test
    void aModelThatDoesNotFitIsRefusedWithTheNumbers() {
        EngineException e = assertThrows(EngineException.class, () -> MemoryPlan.of(cfg(0, 10L << 20, GGMLType.F16), weighing(12L << 20)));
        assertTrue(e.getMessage().contains("does not fit") && e.getMessage().contains("12.0 MiB"), e.getMessage());
        long act = MemoryPlan.activationBytes(cfg(0, 0, GGMLType.F16), cfg);
        EngineException noRoom = assertThrows(EngineException.class,
                () -> MemoryPlan.of(cfg(0, (12L << 20) + act + 10, GGMLType.F16), weighing(12L << 20)));
        assertTrue(noRoom.getMessage().contains("no room for the KV cache"), noRoom.getMessage());
    }

    @Test
    void aModelThatCanStreamWeightsRunsInABudgetSmallerThanItsFile() {
        FakeModel moe = weighing(40L << 20);
        moe.minimumResident = 10L << 20;
        long budget = 32L << 20, act = MemoryPlan.activationBytes(cfg(0, budget, GGMLType.F16), moe);
        MemoryPlan p = MemoryPlan.of(cfg(0, budget, GGMLType.F16), moe);
        assertTrue(p.weightBytes() >= 10L << 20 && p.weightBytes() < 40L << 20, "resident weights between the minimum and the file: " + p.weightBytes());
        assertTrue(p.totalBytes() <= budget && budget - p.totalBytes() < p.bytesPerBlock(), "the whole budget, never more: " + p.totalBytes());
        assertTrue(p.numBlocks() > 0 && p.kvBytes() <= (budget - (10L << 20) - act) / 2, "the pool takes at most half of what the minimum leaves");

        // With the pool given, the weights get what is left of the budget.
        long perBlock = KvStore.bytesPerBlock(cfg.kvLayout(), 16, GGMLType.F16);
        MemoryPlan fixed = MemoryPlan.of(cfg(perBlock * 10, budget, GGMLType.F16), moe);
        assertEquals(10, fixed.numBlocks());
        assertEquals(budget - act - 10 * perBlock, fixed.weightBytes());

        // Not even the minimum fits: refused, naming it.
        EngineException e = assertThrows(EngineException.class, () -> MemoryPlan.of(cfg(0, (10L << 20) + act - 1, GGMLType.F16), moe));
        assertTrue(e.getMessage().contains("at least 10.0 MiB must stay resident"), e.getMessage());
        // A budget with room for everything keeps everything.
        assertEquals(40L << 20, MemoryPlan.of(cfg(0, 1L << 30, GGMLType.F16), moe).weightBytes());
    }

    @Test
    void withoutLimitsThePoolHoldsMaxSeqsContextsUpToACap() {
        MemoryPlan p = MemoryPlan.of(cfg(0, 0, GGMLType.F16), weighing(0));
        assertEquals(8 * 2048 / 16, p.numBlocks());
    }

    /** A draft model: this many bytes of weights, a KV layout of its own (one layer of 16-wide heads: half the target's block). */
    private static FakeModel draftWeighing(long weightBytes) {
        FakeModel d = new FakeModel(1, 1, 16, FakeModel.VOCAB, 2048);
        d.weightBytes = weightBytes;
        return d;
    }

    @Test
    void aDraftModelsWeightsPoolAndActivationsAreCountedAndItsPoolHasTheTargetsBlocks() {
        long budget = 64L << 20, weights = 20L << 20, draftWeights = 6L << 20;
        FakeModel draft = draftWeighing(draftWeights);
        MemoryPlan alone = MemoryPlan.of(cfg(0, budget, GGMLType.F16), weighing(weights));
        MemoryPlan both = MemoryPlan.of(cfg(0, budget, GGMLType.F16), weighing(weights), Speculation.draft(draft, 4));
        assertFalse(alone.draft().present());
        long draftPerBlock = KvStore.bytesPerBlock(draft.kvLayout(), 16, GGMLType.F16);
        assertEquals(new MemoryPlan.Draft(draftWeights, MemoryPlan.activationBytes(cfg(0, budget, GGMLType.F16), draft), draftPerBlock), both.draft());
        assertEquals(both.numBlocks() * draftPerBlock, both.draftKvBytes());
        assertTrue(both.totalBytes() <= budget && budget - both.totalBytes() < both.bytesPerBlock() + draftPerBlock,
                "the whole budget, never more, draft included: " + both);
        assertTrue(both.numBlocks() < alone.numBlocks(), "a smaller pool, as the target's is what the budget leaves: " + both.numBlocks() + " vs " + alone.numBlocks());
        // Weights, the draft's weights, both activations and both pools: what the budget leaves goes to the pools, block for block.
        long left = budget - weights - draftWeights - both.activationBytes() - both.draft().activationBytes();
        assertEquals(left / (both.bytesPerBlock() + draftPerBlock), both.numBlocks());
        String line = both.describe(cfg(0, budget, GGMLType.F16));
        assertTrue(line.contains("+ draft model ") && line.contains("weights 6.0 MiB + KV pool " + MemoryPlan.size(both.draftKvBytes())), line);
        assertFalse(alone.describe(cfg(0, budget, GGMLType.F16)).contains("draft"));
    }

    @Test
    void aBudgetThatHoldsTheTargetButNotItsDraftIsRefusedSayingSo() {
        long weights = 20L << 20, act = MemoryPlan.activationBytes(cfg(0, 0, GGMLType.F16), cfg);
        long budget = weights + act + (4L << 20);
        assertDoesNotThrow(() -> MemoryPlan.of(cfg(0, budget, GGMLType.F16), weighing(weights)), "the target alone fits");
        EngineException e = assertThrows(EngineException.class,
                () -> MemoryPlan.of(cfg(0, budget, GGMLType.F16), weighing(weights), Speculation.draft(draftWeighing(8L << 20), 4)));
        assertTrue(e.getMessage().contains("does not fit") && e.getMessage().contains("draft model's weights 8.0 MiB")
                && e.getMessage().contains("without the draft model (-md) the target alone would fit"), e.getMessage());
        // Its weights fit, but then no block is left for the two pools.
        long perBlock = KvStore.bytesPerBlock(cfg.kvLayout(), 16, GGMLType.F16);
        FakeModel small = draftWeighing(4L << 20);
        long draftPerBlock = KvStore.bytesPerBlock(small.kvLayout(), 16, GGMLType.F16);
        MemoryPlan unlimited = MemoryPlan.of(cfg(0, 0, GGMLType.F16), weighing(weights), Speculation.draft(small, 4));
        // Everything but the pools (the target's activations with its guesses' rows, and the draft's own).
        long fixed = weights + unlimited.activationBytes() + unlimited.draft().activationBytes() + (4L << 20);
        long tight = fixed + perBlock;
        EngineException noRoom = assertThrows(EngineException.class,
                () -> MemoryPlan.of(cfg(0, tight, GGMLType.F16), weighing(weights), Speculation.draft(small, 4)));
        assertTrue(noRoom.getMessage().contains("no room for the KV cache") && noRoom.getMessage().contains("in the draft model's pool")
                && noRoom.getMessage().contains("the target alone would fit"), noRoom.getMessage());
        assertEquals(1, MemoryPlan.of(cfg(0, tight + draftPerBlock, GGMLType.F16), weighing(weights), Speculation.draft(small, 4)).numBlocks(),
                "a block in both pools fits");
        // With --kv-memory the target's pool is as given and the draft's comes on top of it.
        MemoryPlan given = MemoryPlan.of(cfg(perBlock * 50, 0, GGMLType.F16), weighing(weights), Speculation.draft(small, 4));
        assertEquals(50, given.numBlocks());
        assertEquals(50 * draftPerBlock, given.draftKvBytes());
        EngineException over = assertThrows(EngineException.class, () -> MemoryPlan.of(
                cfg(perBlock * 50, fixed + perBlock * 50, GGMLType.F16), weighing(weights), Speculation.draft(small, 4)));
        assertTrue(over.getMessage().contains("exceed the memory budget") && over.getMessage().contains("the draft model's KV pool"), over.getMessage());
    }

    @Test
    void speculationsLogitsRowsAreCountedAndPromptLookupAddsNoDraftShare() {
        long vocab = FakeModel.VOCAB;
        MemoryPlan off = MemoryPlan.of(cfg(0, 0, GGMLType.F16), weighing(0));
        MemoryPlan lookup = MemoryPlan.of(cfg(0, 0, GGMLType.F16), weighing(0), Speculation.ngram(8));
        assertEquals(off.activationBytes() + 2 * 8 * 4 * vocab, lookup.activationBytes(), "room for two longest drafts' rows");
        assertFalse(lookup.draft().present());
        assertEquals(off.totalBytes() + 2 * 8 * 4 * vocab, lookup.totalBytes());
    }

    @Test
    void theEnginesDraftPoolMatchesThePlan() {
        FakeModel draft = draftWeighing(2L << 20);
        try (LlmEngine e = new LlmEngine(new FakeModel(2048), cfg(0, 64L << 20, GGMLType.F16), Speculation.draft(draft, 4))) {
            MemoryPlan p = e.memoryPlan();
            assertTrue(p.draft().present() && p.totalBytes() <= 64L << 20, p.toString());
            assertEquals(p.numBlocks(), ((DraftModelDrafter) e.drafter()).blockManager().numBlocks());
        }
        try (LlmEngine e = new LlmEngine(new FakeModel(2048), cfg(0, 64L << 20, GGMLType.F16), new Speculation(Speculation.Mode.AUTO, 4, 0, draft))) {
            assertTrue(e.memoryPlan().draft().present(), "auto runs the draft model too");
        }
    }

    @Test
    void theEnginesPoolMatchesThePlan() {
        try (LlmEngine e = new LlmEngine(new FakeModel(2048), cfg(0, 64L << 20, GGMLType.F16))) {
            MemoryPlan p = e.memoryPlan();
            assertEquals(p.numBlocks(), e.metrics().kvBlocksTotal());
            assertTrue(p.totalBytes() <= 64L << 20);
        }
    }
}
