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

    @Test
    void theEnginesPoolMatchesThePlan() {
        try (LlmEngine e = new LlmEngine(new FakeModel(2048), cfg(0, 64L << 20, GGMLType.F16))) {
            MemoryPlan p = e.memoryPlan();
            assertEquals(p.numBlocks(), e.metrics().kvBlocksTotal());
            assertTrue(p.totalBytes() <= 64L << 20);
        }
    }
}
