package io.sluice.model.nn;

import io.sluice.model.Hparams;
import io.sluice.model.RoutingStats;
import io.sluice.model.Weights;
import io.sluice.tensor.GroupedMatmul;
import io.sluice.tensor.Matrix;
import io.sluice.tensor.NativeKernels;
import io.sluice.tensor.Parallel;
import io.sluice.tensor.VectorMath;

import java.util.Arrays;

/**
 * A mixture-of-experts feed-forward layer, as llama.cpp's build_moe_ffn: a router scores every
 * expert for each token ({@code ffn_gate_inp}, optionally biased), the top k are chosen and
 * weighted by the gating function (optionally renormalised and scaled), each chosen expert (a
 * gated feed-forward block, optionally with biases) runs on its tokens, and a token's output is
 * the weighted sum of its experts' outputs, plus, in Qwen2-MoE, a shared expert that sees every
 * token, scaled by its own sigmoid gate.
 *
 * <p>Experts come from the file's 3-D tensors ({@code ffn_gate_exps}, {@code ffn_up_exps},
 * {@code ffn_down_exps}: [n_expert, rows, cols]) as one matrix view per expert over the mapping,
 * read by the kernels that take the file's rows where the format has them (no copy of the
 * experts, which are most of the file), else repacked expert by expert on first use.
 * Execution is grouped by expert: the step's tokens are sorted into slots by the experts that
 * chose them, every chosen expert's gate and up, then its down, are read once for all of its
 * tokens ({@link GroupedMatmul}: every expert's row groups split over the threads together),
 * and the results are scattered back to the tokens with their routing weights.
 */
public final class Moe implements FeedForward {
    /** llama.cpp's expert_gating_func: how router logits become expert weights. */
    public enum Gating {
        /** Softmax over all experts; the top k keep their probabilities (Mixtral, Qwen-MoE, OLMoE). */
        SOFTMAX,
        /** Each expert's sigmoid on its own; the top k keep theirs (DeepSeek-V3 style). */
        SIGMOID,
        /** The top k by logit, their weights a softmax over those k only (gpt-oss). */
        SOFTMAX_WEIGHT
    }

    /**
     * How tokens are routed.
     *
     * @param experts   experts per layer (expert_count)
     * @param used      experts chosen per token (expert_used_count)
     * @param gating    expert_gating_func
     * @param normalize divide the chosen weights by their sum (expert_weights_norm)
     * @param scale     multiply the chosen weights by this (expert_weights_scale; 1 = none)
     */
    public record Routing(int experts, int used, Gating gating, boolean normalize, float scale) {
        /** llama.cpp's LLAMA_MAX_EXPERTS: no file beyond it loads anywhere; beyond it a count is corruption. */
        public static final int MAX_EXPERTS = 512;

        public Routing {
            if (experts <= 0 || experts > MAX_EXPERTS || used <= 0 || used > experts || !(scale > 0) || !Float.isFinite(scale)) {
                throw new IllegalArgumentException("bad routing: " + used + " of " + experts + " experts, scale " + scale);
            }
        }

        /**
         * The routing keys of the file, every one llama.cpp reads, with the architecture's gating
         * and normalisation where the file does not say (llama.cpp fixes them per architecture;
         * a file that states them is followed). Each bad value is one error naming file and key.
         */
        public static Routing read(Hparams hp, Gating gating, boolean normalize) {
            int experts = hp.count("expert_count", MAX_EXPERTS);
            int used = hp.count("expert_used_count", MAX_EXPERTS);
            if (used > experts) throw hp.error("expert_used_count", used + " exceeds expert_count " + experts);
            if (hp.integer("expert_group_count", 0) > 1) {
                throw hp.error("expert_group_count", hp.integer("expert_group_count", 0) + " expert groups (DeepSeek-V3's group-limited routing) are not supported");
            }
            int g = hp.nonNegativeInt("expert_gating_func", 0);
            Gating gate = switch (g) {
                case 0 -> gating;
                case 1 -> Gating.SOFTMAX;
                case 2 -> Gating.SIGMOID;
                case 3 -> Gating.SOFTMAX_WEIGHT;
                default -> throw hp.error("expert_gating_func", g + " is not a gating function (1 softmax, 2 sigmoid, 3 softmax over the chosen)");
            };
            boolean norm = hp.flag("expert_weights_norm", normalize);
            float scale = hp.nonNegative("expert_weights_scale", 0f);
            return new Routing(experts, used, gate, norm, scale == 0f ? 1f : scale);
        }
    }

    /** The feed-forward width of layer l's experts: expert_feed_forward_length, else dflt (the architecture's rule). */
    public static int expertWidth(Hparams hp, int dflt) {
        if (hp.has("expert_feed_forward_length")) return hp.count("expert_feed_forward_length", 1 << 24);
        if (dflt <= 0) throw hp.error("expert_feed_forward_length", "missing, and feed_forward_length gives no expert width");
        return dflt;
    }

    /**
     * The shared expert's width (Qwen2-MoE): expert_shared_feed_forward_length, else
     * expert_shared_count experts of the routed width, else feed_forward_length, as llama.cpp.
     */
    public static int sharedWidth(Hparams hp, int l, int expertWidth) {
        if (hp.has("expert_shared_feed_forward_length")) return hp.count("expert_shared_feed_forward_length", 1 << 24);
        int shared = hp.nonNegativeInt("expert_shared_count", 0);
        if (shared > Routing.MAX_EXPERTS) throw hp.error("expert_shared_count", shared + " is outside 0.." + Routing.MAX_EXPERTS);
        return shared > 0 ? shared * expertWidth : hp.ffnDim[l];
    }

    private final Routing routing;
    private final int dim, ff;
    private final Matrix router;
    private final float[] routerBias;
    private final Projection gate, up, down;
    /** What {@link GroupedMatmul} reads: each set's view of every expert. */
    private final Matrix[][] gateUpSets, downSets;
    /** Per expert, concatenated (expert e's at e·width), or null. */
    private final float[] gateBias, upBias, downBias;
    private final Ffn.Activation act;
    private final Ffn shared;
    private final float[] sharedGate;
    private final Workspace ws;
    /** This layer's index in the workspace's {@link ExpertResidency}. */
    private final int residencyIndex;

    private Moe(Routing routing, int dim, int ff, Matrix router, float[] routerBias, Matrix[] gate, Matrix[] up, Matrix[] down,
                float[] gateBias, float[] upBias, float[] downBias, Ffn.Activation act, Ffn shared, float[] sharedGate, Workspace ws) {
        this.routing = routing;
        this.dim = dim;
        this.ff = ff;
        this.router = router;
        this.routerBias = routerBias;
        this.gate = new Projection(gate);
        this.up = new Projection(up);
        this.down = new Projection(down);
        this.gateUpSets = new Matrix[][]{this.gate.read, this.up.read};
        this.downSets = new Matrix[][]{this.down.read};
        this.gateBias = gateBias;
        this.upBias = upBias;
        this.downBias = downBias;
        this.act = act;
        this.shared = shared;
        this.sharedGate = sharedGate;
        this.ws = ws;
        ws.reserve(this);
        long perExpert = gate[0].rowBytes() * ff + up[0].rowBytes() * ff + down[0].rowBytes() * dim;
        this.residencyIndex = ws.residency.register(this, perExpert);
    }

    /**
     * One projection (gate, up or down) of every expert, as the kernels read it: from the file's
     * rows where the format's native kernel reads rows (no copy, no repack stall on an expert's
     * first use, pages shared with the page cache and droppable under a memory budget), else from
     * the interleaved copy each expert gets on its first use. Never both for one expert, so a
     * token's result does not depend on which experts the rest of the batch chose.
     */
    private static final class Projection {
        final Matrix[] mapped, read;

        Projection(Matrix[] experts) {
            mapped = new Matrix[experts.length];
            for (int e = 0; e < experts.length; e++) mapped[e] = experts[e].rowKernelsOnly();
            read = NativeKernels.hasRowKernel(experts[0].type()) ? mapped.clone() : experts.clone();
        }

        /** From now on the mapping only (a memory budget: formats without row kernels fall back to the Java dots). */
        void stream() {
            System.arraycopy(mapped, 0, read, 0, mapped.length);
        }
    }

    /** From now on the experts are read from the file mapping only, never copied (a memory budget, see {@link ExpertResidency}). */
    void streamExperts() {
        gate.stream();
        up.stream();
        down.stream();
    }

    /** Drops expert e's pages from the process (they are read back from the page cache or the file on its next use). */
    void release(int e) {
        gate.mapped[e].releasePages();
        up.mapped[e].releasePages();
        down.mapped[e].releasePages();
    }

    /**
     * Layer l's router ({@code ffn_gate_inp}, its bias when the file has one), experts
     * ({@code ffn_{gate,up,down}_exps}, their biases when present) of width ff, and, with
     * sharedFf &gt; 0, the shared expert ({@code ffn_*_shexp}) and its gate ({@code ffn_gate_inp_shexp}).
     * ws: the work buffers, one for all MoE layers of a model.
     */
    public static Moe load(Weights w, int l, int dim, int ff, Routing r, Ffn.Activation act, int sharedFf, Workspace ws) {
        int e = r.experts();
        Matrix router = w.matrix(Weights.layer(l, "ffn_gate_inp.weight"), dim, e);
        float[] routerBias = w.optionalVector(Weights.layer(l, "ffn_gate_inp.bias"), e);
        Matrix[] gate = w.experts(Weights.layer(l, "ffn_gate_exps.weight"), dim, ff, e);
        Matrix[] up = w.experts(Weights.layer(l, "ffn_up_exps.weight"), dim, ff, e);
        Matrix[] down = w.experts(Weights.layer(l, "ffn_down_exps.weight"), ff, dim, e);
        float[] gb = w.optionalExpertVectors(Weights.layer(l, "ffn_gate_exps.bias"), ff, e);
        float[] ub = w.optionalExpertVectors(Weights.layer(l, "ffn_up_exps.bias"), ff, e);
        float[] db = w.optionalExpertVectors(Weights.layer(l, "ffn_down_exps.bias"), dim, e);
        Ffn shared = sharedFf > 0 ? Ffn.load(w, l, "_shexp", dim, sharedFf, Ffn.Activation.SILU) : null;
        float[] sharedGate = sharedFf > 0 ? w.vector(Weights.layer(l, "ffn_gate_inp_shexp.weight"), dim) : null;
        return new Moe(r, dim, ff, router, routerBias, gate, up, down, gb, ub, db, act, shared, sharedGate, ws);
    }

    public Routing routing() {
        return routing;
    }

    /** The routed experts' feed-forward width. */
    public int expertWidth() {
        return ff;
    }

    /** The shared expert's width, the only one that uses the caller's gate and up buffers (0 without one). */
    @Override
    public int width() {
        return shared != null ? shared.width() : 0;
    }

    /**
     * out = the layer's output for the n rows of x (dim values each, already normalised); out may
     * be x. gate and up (n × {@link #width()}) serve the shared expert; the rest is in the Workspace.
     */
    @Override
    public void forward(float[] x, int n, float[] gateBuf, float[] upBuf, float[] out) {
        if (n <= 0) return;
        int k = routing.used(), ne = routing.experts();
        ws.ensure(n, this);
        router.matmul(x, ws.logits, n);
        Ops.addBias(ws.logits, routerBias, n);
        for (int t = 0; t < n; t++) route(ws.logits, t * ne, ws.chosen, ws.weight, t * k, ws.probs);

        // Slots grouped by expert, tokens ascending within one; slotOf remembers where each (token, choice) went.
        int slots = n * k;
        int[] start = ws.start;
        Arrays.fill(start, 0, ne + 1, 0);
        for (int i = 0; i < slots; i++) start[ws.chosen[i] + 1]++;
        for (int e = 0; e < ne; e++) start[e + 1] += start[e];
        ws.stats.record(start, ne);
        System.arraycopy(start, 0, ws.fill, 0, ne);
        for (int i = 0; i < slots; i++) {
            int s = ws.fill[ws.chosen[i]]++;
            ws.src[s] = i / k;
            ws.slotOf[i] = s;
        }

        GroupedMatmul.matmul(x, n, ws.src, start, gateUpSets, ws.gateUpOut);
        addExpertBias(ws.gate, gateBias, ff, start, ne);
        addExpertBias(ws.up, upBias, ff, start, ne);
        int len = slots * ff;
        Parallel.forRange(len, 4096, (s, e) -> act.apply(ws.gate, ws.up, s, e));
        GroupedMatmul.matmul(ws.gate, slots, null, start, downSets, ws.downOut);
        addExpertBias(ws.y, downBias, dim, start, ne);
        ws.residency.touched(residencyIndex, start, ne);

        if (shared != null) {
            // Before the scatter: out may be x.
            shared.forward(x, n, gateBuf, upBuf, ws.sharedOut);
            for (int t = 0; t < n; t++) {
                float g = VectorMath.dot(sharedGate, 0, x, t * dim, dim);
                ws.sharedScale[t] = 1f / (1f + (float) Math.exp(-g));
            }
        }
        // Each token sums its experts in the order chosen (best first), as llama.cpp adds them.
        Parallel.forRange(n, 8, (t0, t1) -> {
            for (int t = t0; t < t1; t++) {
                int o = t * dim;
                Arrays.fill(out, o, o + dim, 0f);
                for (int j = 0; j < k; j++) VectorMath.axpy(ws.weight[t * k + j], ws.y, ws.slotOf[t * k + j] * dim, out, o, dim);
                if (shared != null) VectorMath.axpy(ws.sharedScale[t], ws.sharedOut, o, out, o, dim);
            }
        });
    }

    /** Adds each slot's expert's bias (width values per expert, concatenated) to its row of x. */
    private static void addExpertBias(float[] x, float[] bias, int width, int[] start, int experts) {
        if (bias == null) return;
        for (int e = 0; e < experts; e++) {
            for (int s = start[e]; s < start[e + 1]; s++) VectorMath.axpy(1f, bias, e * width, x, s * width, width);
        }
    }

    /**
     * One token's choice: the k experts of highest score (probability, or logit for
     * SOFTMAX_WEIGHT), best first, ties to the lower index, into chosen[at..at+k), and their
     * weights into weight[at..at+k). probs is scratch of n_expert floats.
     */
    void route(float[] logits, int off, int[] chosen, float[] weight, int at, float[] probs) {
        int ne = routing.experts(), k = routing.used();
        switch (routing.gating()) {
            case SOFTMAX -> softmax(logits, off, probs, 0, ne);
            case SIGMOID -> {
                for (int e = 0; e < ne; e++) probs[e] = 1f / (1f + (float) Math.exp(-logits[off + e]));
            }
            case SOFTMAX_WEIGHT -> System.arraycopy(logits, off, probs, 0, ne);
        }
        for (int j = 0; j < k; j++) {
            int best = -1;
            for (int e = 0; e < ne; e++) {
                if (taken(chosen, at, j, e)) continue;
                if (best < 0 || probs[e] > probs[best]) best = e;
            }
            chosen[at + j] = best;
            weight[at + j] = probs[best];
        }
        if (routing.gating() == Gating.SOFTMAX_WEIGHT) softmax(weight, at, weight, at, k);
        if (routing.normalize()) {
            float sum = 0f;
            for (int j = 0; j < k; j++) sum += weight[at + j];
            // As llama.cpp: the sum clamped to the smallest F16 normal, so that it never divides by 0.
            sum = Math.max(sum, 6.103515625e-5f);
            for (int j = 0; j < k; j++) weight[at + j] /= sum;
        }
        if (routing.scale() != 1f) for (int j = 0; j < k; j++) weight[at + j] *= routing.scale();
    }

    private static boolean taken(int[] chosen, int at, int j, int e) {
        for (int i = 0; i < j; i++) if (chosen[at + i] == e) return true;
        return false;
    }

    /** dst[do..do+n) = softmax(src[so..so+n)); dst may be src. */
    private static void softmax(float[] src, int so, float[] dst, int dOff, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, src[so + i]);
        float sum = 0f;
        for (int i = 0; i < n; i++) {
            float v = (float) Math.exp(src[so + i] - max);
            dst[dOff + i] = v;
            sum += v;
        }
        for (int i = 0; i < n; i++) dst[dOff + i] /= sum;
    }

    /**
     * The work buffers of a model's MoE layers (one for all of them: layers run one at a time),
     * grown to the largest batch seen; {@link #bytes} plans them for the largest layer.
     */
    public static final class Workspace {
        float[] logits = new float[0], probs = new float[0], weight = new float[0];
        int[] chosen = new int[0], start = new int[0], fill = new int[0], src = new int[0], slotOf = new int[0];
        float[] gate = new float[0], up = new float[0], y = new float[0];
        float[] sharedOut = new float[0], sharedScale = new float[0];
        float[][] gateUpOut = {gate, up}, downOut = {y};
        /** What the layers' routing did, for the metrics. */
        final RoutingStats stats = new RoutingStats();
        /** Which experts stay in memory. */
        final ExpertResidency residency = new ExpertResidency();
        /** The largest layer reserved: experts, chosen per token, expert width, dim, with a shared expert. */
        private int experts, used, ff, dim;
        private boolean shared;

        /** The routing of every layer reserved so far; null while there is none (a dense model). */
        public RoutingStats stats() {
            return experts > 0 ? stats : null;
        }

        /** The experts of every layer reserved, and how many of them stay resident. */
        public ExpertResidency residency() {
            return residency;
        }

        void reserve(Moe m) {
            experts = Math.max(experts, m.routing.experts());
            used = Math.max(used, m.routing.used());
            ff = Math.max(ff, m.ff);
            dim = Math.max(dim, m.dim);
            shared |= m.shared != null;
        }

        /** Heap bytes of the buffers for a batch of n tokens through the largest layer reserved (0 with none). */
        public long bytes(int n) {
            long slots = (long) n * used;
            long floats = (long) n * experts + experts + slots * (1 + 2L * ff + dim) + (shared ? (long) n * (1 + dim) : 0);
            long ints = slots * 4 + 2L * (experts + 1);
            return 4 * (floats + ints);
        }

        void ensure(int n, Moe m) {
            int ne = m.routing.experts(), slots = n * m.routing.used();
            logits = grow(logits, n * ne);
            probs = grow(probs, ne);
            weight = grow(weight, slots);
            chosen = grow(chosen, slots);
            start = grow(start, ne + 1);
            fill = grow(fill, ne + 1);
            src = grow(src, slots);
            slotOf = grow(slotOf, slots);
            gate = grow(gate, slots * m.ff);
            up = grow(up, slots * m.ff);
            y = grow(y, slots * m.dim);
            if (gateUpOut[0] != gate || gateUpOut[1] != up) gateUpOut = new float[][]{gate, up};
            if (downOut[0] != y) downOut = new float[][]{y};
            if (m.shared != null) {
                sharedOut = grow(sharedOut, n * m.dim);
                sharedScale = grow(sharedScale, n);
            }
        }

        private static float[] grow(float[] a, int n) {
            return a.length >= n ? a : new float[n];
        }

        private static int[] grow(int[] a, int n) {
            return a.length >= n ? a : new int[n];
        }
    }
}
