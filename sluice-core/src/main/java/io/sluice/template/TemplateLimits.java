package io.sluice.template;

import java.time.Duration;

/**
 * Bounds on one render, so a template (from a model file or anywhere else) cannot hold a core or the
 * heap: evaluation steps, macro/loop recursion depth, output size, characters and elements allocated
 * along the way, and wall time. Going over one throws {@link TemplateLimitException} naming it.
 *
 * @param maxSteps       statements executed plus expressions evaluated
 * @param maxDepth       nested macro calls and recursive loops (data nesting is capped separately, at {@link Value#MAX_DATA_DEPTH})
 * @param maxOutputChars length of the rendered text
 * @param maxAllocChars  characters of strings plus elements of lists/dicts created while rendering, in total
 * @param maxTime        wall time of one render
 */
public record TemplateLimits(long maxSteps, int maxDepth, long maxOutputChars, long maxAllocChars, Duration maxTime) {

    /** Which bound a render went over. */
    public enum Limit {
        STEPS("steps"), DEPTH("recursion depth"), OUTPUT("output size"), MEMORY("allocated size"), TIME("wall time");

        private final String label;

        Limit(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    public TemplateLimits {
        if (maxSteps <= 0 || maxDepth <= 0 || maxOutputChars <= 0 || maxAllocChars <= 0) {
            throw new IllegalArgumentException("template limits must be positive");
        }
        if (maxTime == null || maxTime.isNegative() || maxTime.isZero()) throw new IllegalArgumentException("template time limit must be positive");
    }

    /**
     * Generous for real chat templates (a 1000-message conversation with tools renders in well under a
     * tenth of these), small enough that a hostile template gives up within a second or two.
     */
    public static TemplateLimits defaults() {
        return new TemplateLimits(5_000_000, 100, 16L << 20, 64L << 20, Duration.ofSeconds(2));
    }

    public TemplateLimits withMaxSteps(long n) {
        return new TemplateLimits(n, maxDepth, maxOutputChars, maxAllocChars, maxTime);
    }

    public TemplateLimits withMaxDepth(int n) {
        return new TemplateLimits(maxSteps, n, maxOutputChars, maxAllocChars, maxTime);
    }

    public TemplateLimits withMaxOutputChars(long n) {
        return new TemplateLimits(maxSteps, maxDepth, n, maxAllocChars, maxTime);
    }

    public TemplateLimits withMaxAllocChars(long n) {
        return new TemplateLimits(maxSteps, maxDepth, maxOutputChars, n, maxTime);
    }

    public TemplateLimits withMaxTime(Duration d) {
        return new TemplateLimits(maxSteps, maxDepth, maxOutputChars, maxAllocChars, d);
    }
}
