package io.sluice.model;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * What a mixture-of-experts model's routing did, cumulatively since it was loaded, as two
 * histograms: for every forward pass (engine step) and MoE layer, the number of distinct experts
 * the layer read (how much of its expert weights the step streamed); and for every expert so
 * read, the number of tokens it served (how well the step's tokens shared their experts).
 * Recorded by the forward pass (one thread), read by any thread (the metrics exporter).
 */
public final class RoutingStats {
    /** Upper bounds of the experts-touched buckets (no model has more than 512 experts per layer). */
    public static final double[] EXPERTS_BOUNDS = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
    /** Upper bounds of the tokens-per-expert buckets. */
    public static final double[] TOKENS_BOUNDS = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};

    private final Histogram experts = new Histogram(EXPERTS_BOUNDS), tokens = new Histogram(TOKENS_BOUNDS);

    /**
     * One MoE layer of one forward pass, its tokens grouped by expert: expert e served the
     * start[e + 1] - start[e] tokens of its group, for e &lt; experts.
     */
    public void record(int[] start, int experts) {
        int touched = 0;
        for (int e = 0; e < experts; e++) {
            int n = start[e + 1] - start[e];
            if (n > 0) {
                touched++;
                tokens.add(n);
            }
        }
        this.experts.add(touched);
    }

    public Histogram.Snapshot expertsTouched() {
        return experts.snapshot();
    }

    public Histogram.Snapshot tokensPerExpert() {
        return tokens.snapshot();
    }

    /** A histogram of fixed buckets: counts per bucket (the last one above every bound), sum and count. */
    public static final class Histogram {
        private final double[] bounds;
        private final AtomicLongArray counts;
        private final AtomicLongArray sum = new AtomicLongArray(1);

        Histogram(double[] bounds) {
            this.bounds = bounds;
            this.counts = new AtomicLongArray(bounds.length + 1);
        }

        void add(long v) {
            int b = 0;
            while (b < bounds.length && v > bounds[b]) b++;
            counts.incrementAndGet(b);
            sum.addAndGet(0, v);
        }

        Snapshot snapshot() {
            long[] c = new long[counts.length()];
            long n = 0;
            for (int i = 0; i < c.length; i++) n += c[i] = counts.get(i);
            // The count from the buckets, so that a snapshot taken during an update stays consistent.
            return new Snapshot(bounds.clone(), c, sum.get(0), n);
        }

        /**
         * @param bounds upper bounds of the buckets
         * @param counts observations per bucket (not cumulative), bounds.length + 1 of them (the last: above every bound)
         */
        public record Snapshot(double[] bounds, long[] counts, long sum, long count) {
            /** Observations at or below each bound, then all of them (Prometheus' le buckets, +Inf last). */
            public long[] cumulative() {
                long[] c = new long[counts.length];
                long run = 0;
                for (int i = 0; i < c.length; i++) c[i] = run += counts[i];
                return c;
            }
        }
    }
}
