package io.sluice.engine;

import io.sluice.gguf.GGMLType;
import io.sluice.model.KvStore;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

class BatchedBenchTest {
    private static LlmEngine engine(FakeModel model, int blocks, int maxSeqs) {
        long kv = blocks * KvStore.bytesPerBlock(model.kvLayout(), 16, GGMLType.F32);
        return new LlmEngine(model, new EngineConfig(kv, 0, 16, GGMLType.F32, 512, maxSeqs, 64, 256));
    }

    @Test
    void rowsFollowLlamaBatchedBenchsOrderColumnsAndArithmetic() {
        FakeModel model = new FakeModel(256);
        model.delayNanos = 1_000_000;
        try (LlmEngine e = engine(model, 64, 4)) {
            List<BatchedBench.Row> seen = new ArrayList<>();
            // pl 8 exceeds maxSeqs and pp 300 exceeds the context: both skipped.
            List<BatchedBench.Row> rows = BatchedBench.run(e, new int[]{32, 64, 300}, new int[]{8}, new int[]{1, 4, 8}, 1, seen::add);
            assertEquals(rows, seen);
            assertEquals(4, rows.size());
            int[][] want = {{32, 1}, {32, 4}, {64, 1}, {64, 4}};
            for (int i = 0; i < rows.size(); i++) {
                BatchedBench.Row r = rows.get(i);
                assertEquals(want[i][0], r.pp());
                assertEquals(want[i][1], r.pl());
                assertEquals(8, r.tg());
                assertEquals(r.pl() * (r.pp() + r.tg()), r.nKv());
                assertEquals(r.pl() * r.pp(), r.speedPp() * r.tPp(), 1e-6 * r.pl() * r.pp());
                assertEquals(r.pl() * r.tg(), r.speedTg() * r.tTg(), 1e-6 * r.pl() * r.tg());
                assertEquals(r.tPp() + r.tTg(), r.t(), 1e-12);
                assertEquals(r.nKv(), r.speed() * r.t(), 1e-6 * r.nKv());
                // Each decode step costs at least the model's 1 ms: tg steps after the first token.
                assertTrue(r.tTg() >= 8 * 0.001, "t_tg " + r.tTg());
            }
            String json = rows.getFirst().toJson();
            for (String k : new String[]{"\"pp\": 32", "\"tg\": 8", "\"pl\": 1", "\"n_kv\": 40", "\"t_pp\"", "\"speed_pp\"", "\"t_tg\"", "\"speed_tg\"", "\"t\"", "\"speed\""}) {
                assertTrue(json.contains(k), json + " lacks " + k);
            }
            assertTrue(BatchedBench.header().contains("S_TG t/s"));
            assertTrue(rows.get(1).toTableRow().startsWith("|    32 |      8 |    4 |    160 |"), rows.get(1).toTableRow());
        }
    }

    @Test
    void aRowRunsExactlyTheAdvertisedWorkInParallel() {
        FakeModel model = new FakeModel(256);
        try (LlmEngine e = engine(model, 64, 4)) {
            EngineMetrics before = e.metrics();
            BatchedBench.Row r = BatchedBench.runOne(e, 40, 10, 4, new Random(5), FakeModel.VOCAB, null);
            EngineMetrics after = e.metrics();
            assertEquals(4 * 40, after.computedPromptTokens() - before.computedPromptTokens(), "no prefix shared");
            assertEquals(4 * 11, after.generatedTokens() - before.generatedTokens());
            // All four usually share every step (11 in all), but the engine may start before the last
            // one is submitted; each needs 11 steps, so sharing none would take 44.
            long steps = after.steps() - before.steps();
            assertTrue(steps >= 11 && steps <= 44, "steps " + steps);
            assertEquals(4 * 50, r.nKv());
        }
    }

    @Test
    void theWarmUpRunsDecodeStepsAtTheLargestShapeThePoolHolds() {
        try (LlmEngine e = engine(new FakeModel(256), 8, 4)) {   // 128 positions: a 128+32 warm-up does not fit
            List<BatchedBench.Row> rows = BatchedBench.run(e, new int[]{16}, new int[]{4}, new int[]{1, 2}, 1, null);
            assertEquals(2, rows.size());
            // Warm-up 64+32 at pl 1 (33 tokens) and 16+8 at the widest pl, 2 (18), then the rows: 5 and 2*5.
            assertEquals(33 + 18 + 5 + 10, e.metrics().generatedTokens());
            assertEquals(64 + 2 * 16 + 16 + 2 * 16, e.metrics().promptTokens());
        }
    }

    @Test
    void combinationsOverThePoolAreSkipped() {
        try (LlmEngine e = engine(new FakeModel(256), 8, 16)) {   // 128 positions
            assertTrue(BatchedBench.fits(e, 32, 16, 2));
            assertFalse(BatchedBench.fits(e, 64, 16, 2));
            assertThrows(IllegalArgumentException.class, () -> BatchedBench.run(e, new int[]{0}, new int[]{1}, new int[]{1}, 1, null));
        }
    }
}
