package io.sluice.model;

import io.sluice.Fixtures;
import io.sluice.gguf.GGMLType;
import io.sluice.gguf.GGUFWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Settings the fixtures do not hold, checked against the fixtures' reference logits by rewriting
 * a fixture into an equivalent file in another form (or a different one, which must then differ).
 */
class ArchitectureVariantsTest {
    @TempDir
    Path dir;

    /** A copy of the fixture with its metadata edited and its tensors renamed. */
    private Path rewrite(String fixture, String out, Consumer<GGUFWriter> edit, UnaryOperator<String> rename) throws Exception {
        return FixtureRewriter.rewrite(fixture, dir.resolve(out), edit, (t, d) -> new FixtureRewriter.Tensor(rename.apply(t.name()), t.dims(), d));
    }

    private static double maxDiff(Path file, int context, String reference) throws Exception {
        float[] want = LogitsConformanceTest.readF32(Fixtures.model(reference));
        try (Model m = Model.load(file, context)) {
            float[] got = LogitsConformanceTest.evaluate(m, LogitsConformanceTest.promptTokens(), GGMLType.F32);
            double max = 0;
            for (int i = 0; i < got.length; i++) max = Math.max(max, Math.abs(got[i] - want[i]));
            return max;
        }
    }

    @Test
    void phi3TakesTheShortFactorsWhenTheContextFitsTheOriginalOne() throws Exception {
        // Long and short factors swapped: at context 256 (= original) the short ones, i.e. the fixture's long ones, apply.
        Path swapped = rewrite("tiny-phi3-f32.gguf", "phi3-swapped.gguf", w -> { }, n -> n.equals("rope_factors_long.weight")
                ? "rope_factors_short.weight" : n.equals("rope_factors_short.weight") ? "rope_factors_long.weight" : n);
        assertTrue(maxDiff(swapped, 256, "tiny-phi3-f32.logits.f32") < 1e-3);
        assertTrue(maxDiff(swapped, 0, "tiny-phi3-f32.logits.f32") > 0.1, "at the trained context 512 the long (here: swapped) factors apply");
    }

    @Test
    void gemma3ReadsTheSlidingWindowPatternAsAPeriodOrPerLayerFlags() throws Exception {
        String ref = "tiny-gemma3-f32.logits.f32";
        Path period = rewrite("tiny-gemma3-f32.gguf", "g3-period.gguf", w -> w.putU32("gemma3.attention.sliding_window_pattern", 6), n -> n);
        assertTrue(maxDiff(period, 0, ref) < 1e-3, "period 6 is the default");
        Path flags = rewrite("tiny-gemma3-f32.gguf", "g3-flags.gguf",
                w -> w.putArray("gemma3.attention.sliding_window_pattern", new boolean[]{true, true, true, true, true, false}), n -> n);
        assertTrue(maxDiff(flags, 0, ref) < 1e-3, "the same layers as flags");
        Path other = rewrite("tiny-gemma3-f32.gguf", "g3-other.gguf", w -> w.putU32("gemma3.attention.sliding_window_pattern", 2), n -> n);
        assertTrue(maxDiff(other, 0, ref) > 0.1, "another pattern changes the result");
    }

    @Test
    void granitesMultipliersAreNoneWhenAbsentAndOneIsNoScaling() throws Exception {
        String ref = "tiny-granite-f32.logits.f32";
        // An explicit 0 means 'none' to llama.cpp, as an absent key: the fixture's 0.22 residual scale matters.
        Path zero = rewrite("tiny-granite-f32.gguf", "granite-zero.gguf", w -> w.putF32("granite.residual_scale", 0f), n -> n);
        Path one = rewrite("tiny-granite-f32.gguf", "granite-one.gguf", w -> w.putF32("granite.residual_scale", 1f), n -> n);
        double dz = maxDiff(zero, 0, ref), d1 = maxDiff(one, 0, ref);
        assertTrue(dz > 0.1, "dropping the residual scale changes the logits: " + dz);
        try (Model a = Model.load(zero); Model b = Model.load(one)) {
            float[] la = LogitsConformanceTest.evaluate(a, LogitsConformanceTest.promptTokens(), GGMLType.F32);
            float[] lb = LogitsConformanceTest.evaluate(b, LogitsConformanceTest.promptTokens(), GGMLType.F32);
            double m = 0;
            for (int i = 0; i < la.length; i++) m = Math.max(m, Math.abs(la[i] - lb[i]));
            // Not bitwise: the JIT may reorder the vector reductions between the first and later passes.
            assertTrue(m < 1e-4, "residual_scale 0 and 1 both mean no scaling: " + m + " apart (" + d1 + " from the reference)");
        }
    }
}
