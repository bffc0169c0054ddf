package io.sluice.model.nn;

import io.sluice.gguf.GGMLType;
import io.sluice.gguf.GGUFException;
import io.sluice.gguf.GGUFFile;
import io.sluice.gguf.GGUFWriter;
import io.sluice.model.Hparams;
import io.sluice.model.Weights;
import io.sluice.tensor.Formats;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The MoE layer against a direct float64 evaluation of its definition (router, gating, top-k,
 * renormalisation, scale, biases, activation, shared expert) from the dequantized weights; the
 * expert-grouped execution of a batch against each token alone; and the hostile
 * metadata and tensor shapes that must fail as one clear error.
 */
class MoeTest {
    @TempDir
    Path dir;

    static final int DIM = 64, FF = 32;

    /** What a test file holds besides its experts. */
    record Spec(int experts, int used, GGMLType type, boolean routerBias, boolean expertBias, int sharedFf, Map<String, Object> keys) {
        Spec with(String key, Object value) {
            Map<String, Object> k = new HashMap<>(keys);
            k.put(key, value);
            return new Spec(experts, used, type, routerBias, expertBias, sharedFf, k);
        }
    }

    static Spec spec(int experts, int used, GGMLType type) {
        return new Spec(experts, used, type, false, false, 0, Map.of());
    }

    /** Tensor shapes to write instead of the right ones (by name). */
    private Map<String, long[]> wrongShapes = Map.of();

    /** A one-layer file of architecture "moetest": random router, experts (in the spec's type) and optional parts. */
    Path write(Spec s, String name, Consumer<GGUFWriter> tamper) throws IOException {
        GGUFWriter w = new GGUFWriter();
        w.putString("general.architecture", "moetest");
        w.putU32("moetest.embedding_length", DIM);
        w.putU32("moetest.block_count", 1);
        w.putU32("moetest.attention.head_count", 4);
        w.putU32("moetest.feed_forward_length", 48);
        w.putU32("moetest.expert_count", s.experts);
        w.putU32("moetest.expert_used_count", s.used);
        for (var e : s.keys.entrySet()) {
            switch (e.getValue()) {
                case Integer i -> w.putU32("moetest." + e.getKey(), i);
                case Float f -> w.putF32("moetest." + e.getKey(), f);
                case Boolean b -> w.putBool("moetest." + e.getKey(), b);
                default -> throw new IllegalArgumentException();
            }
        }
        SplittableRandom r = new SplittableRandom(s.experts * 131L + s.used);
        // Router rows of different sizes, so that the choice is clear-cut: float rounding never flips it.
        tensor(w, "blk.0.ffn_gate_inp.weight", GGMLType.F32, new long[]{DIM, s.experts}, r, 0.4f);
        if (s.routerBias) tensor(w, "blk.0.ffn_gate_inp.bias", GGMLType.F32, new long[]{s.experts}, r, 1f);
        tensor(w, "blk.0.ffn_gate_exps.weight", s.type, new long[]{DIM, FF, s.experts}, r, 0.3f);
        tensor(w, "blk.0.ffn_up_exps.weight", s.type, new long[]{DIM, FF, s.experts}, r, 0.3f);
        tensor(w, "blk.0.ffn_down_exps.weight", s.type, new long[]{FF, DIM, s.experts}, r, 0.3f);
        if (s.expertBias) {
            tensor(w, "blk.0.ffn_gate_exps.bias", GGMLType.F32, new long[]{FF, s.experts}, r, 2f);
            tensor(w, "blk.0.ffn_up_exps.bias", GGMLType.F32, new long[]{FF, s.experts}, r, 2f);
            tensor(w, "blk.0.ffn_down_exps.bias", GGMLType.F32, new long[]{DIM, s.experts}, r, 1f);
        }
        if (s.sharedFf > 0) {
            tensor(w, "blk.0.ffn_gate_shexp.weight", s.type, new long[]{DIM, s.sharedFf}, r, 0.3f);
            tensor(w, "blk.0.ffn_up_shexp.weight", s.type, new long[]{DIM, s.sharedFf}, r, 0.3f);
            tensor(w, "blk.0.ffn_down_shexp.weight", s.type, new long[]{s.sharedFf, DIM}, r, 0.3f);
            tensor(w, "blk.0.ffn_gate_inp_shexp.weight", GGMLType.F32, new long[]{DIM}, r, 0.3f);
        }
        if (tamper != null) tamper.accept(w);
        Path p = dir.resolve(name + ".gguf");
        w.write(p);
        return p;
    }

    /** Gaussian values × scale (router rows × 1, 2, 3, ... to spread the logits), quantized row by row. */
    void tensor(GGUFWriter w, String name, GGMLType type, long[] dims, SplittableRandom r, float scale) {
        dims = wrongShapes.getOrDefault(name, dims);
        int cols = (int) dims[0];
        long rows = 1;
        for (int i = 1; i < dims.length; i++) rows *= dims[i];
        long rowBytes = type.byteSize(cols);
        MemorySegment seg = Arena.ofAuto().allocate(rowBytes * rows, 64);
        float[] row = new float[cols];
        boolean router = name.contains("gate_inp.weight");
        for (long i = 0; i < rows; i++) {
            for (int c = 0; c < cols; c++) row[c] = (float) r.nextGaussian() * scale * (router ? 1 + i : 1);
            Formats.of(type).quantize(row, 0, cols, seg, i * rowBytes);
        }
        w.addTensor(name, type, dims, seg.toArray(ValueLayout.JAVA_BYTE));
    }

    static double[] dequantized(GGUFFile f, String name) {
        var t = f.requireTensor(name);
        float[] v = new float[(int) t.elementCount()];
        Formats.of(t.type()).dequantize(f.data(t), 0, v, 0, v.length);
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) d[i] = v[i];
        return d;
    }

    /** The layer's definition in float64 on the dequantized weights, one token at a time. */
    static double[] reference(GGUFFile f, Moe.Routing rt, Ffn.Activation act, int sharedFf, float[] x, int n) {
        int ne = rt.experts(), k = rt.used();
        double[] router = dequantized(f, "blk.0.ffn_gate_inp.weight");
        double[] rb = f.tensor("blk.0.ffn_gate_inp.bias") != null ? dequantized(f, "blk.0.ffn_gate_inp.bias") : new double[ne];
        double[] gate = dequantized(f, "blk.0.ffn_gate_exps.weight"), up = dequantized(f, "blk.0.ffn_up_exps.weight"),
                down = dequantized(f, "blk.0.ffn_down_exps.weight");
        boolean biased = f.tensor("blk.0.ffn_gate_exps.bias") != null;
        double[] gb = biased ? dequantized(f, "blk.0.ffn_gate_exps.bias") : new double[ne * FF];
        double[] ub = biased ? dequantized(f, "blk.0.ffn_up_exps.bias") : new double[ne * FF];
        double[] db = biased ? dequantized(f, "blk.0.ffn_down_exps.bias") : new double[ne * DIM];
        double[] out = new double[n * DIM];
        for (int t = 0; t < n; t++) {
            double[] logit = new double[ne], score = new double[ne];
            for (int e = 0; e < ne; e++) {
                for (int c = 0; c < DIM; c++) logit[e] += router[e * DIM + c] * x[t * DIM + c];
                logit[e] += rb[e];
            }
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (double l : logit) max = Math.max(max, l);
            for (int e = 0; e < ne; e++) sum += Math.exp(logit[e] - max);
            for (int e = 0; e < ne; e++) {
                score[e] = switch (rt.gating()) {
                    case SOFTMAX -> Math.exp(logit[e] - max) / sum;
                    case SIGMOID -> 1 / (1 + Math.exp(-logit[e]));
                    case SOFTMAX_WEIGHT -> logit[e];
                };
            }
            int[] chosen = new int[k];
            double[] wt = new double[k];
            boolean[] used = new boolean[ne];
            for (int j = 0; j < k; j++) {
                int best = -1;
                for (int e = 0; e < ne; e++) if (!used[e] && (best < 0 || score[e] > score[best])) best = e;
                used[best] = true;
                chosen[j] = best;
                wt[j] = score[best];
            }
            if (rt.gating() == Moe.Gating.SOFTMAX_WEIGHT) {
                double m = wt[0], s = 0;
                for (int j = 0; j < k; j++) s += Math.exp(wt[j] - m);
                for (int j = 0; j < k; j++) wt[j] = Math.exp(wt[j] - m) / s;
            }
            if (rt.normalize()) {
                double s = 0;
                for (double v : wt) s += v;
                for (int j = 0; j < k; j++) wt[j] /= s;
            }
            for (int j = 0; j < k; j++) {
                int e = chosen[j];
                double[] h = new double[FF];
                for (int r = 0; r < FF; r++) {
                    double g = gb[e * FF + r], u = ub[e * FF + r];
                    for (int c = 0; c < DIM; c++) {
                        g += gate[(e * FF + r) * DIM + c] * x[t * DIM + c];
                        u += up[(e * FF + r) * DIM + c] * x[t * DIM + c];
                    }
                    h[r] = activation(act, g, u);
                }
                for (int r = 0; r < DIM; r++) {
                    double y = db[e * DIM + r];
                    for (int c = 0; c < FF; c++) y += down[(e * DIM + r) * FF + c] * h[c];
                    out[t * DIM + r] += wt[j] * rt.scale() * y;
                }
            }
            if (sharedFf > 0) {
                double[] sg = dequantized(f, "blk.0.ffn_gate_shexp.weight"), su = dequantized(f, "blk.0.ffn_up_shexp.weight"),
                        sd = dequantized(f, "blk.0.ffn_down_shexp.weight"), gi = dequantized(f, "blk.0.ffn_gate_inp_shexp.weight");
                double gl = 0;
                for (int c = 0; c < DIM; c++) gl += gi[c] * x[t * DIM + c];
                double[] h = new double[sharedFf];
                for (int r = 0; r < sharedFf; r++) {
                    double g = 0, u = 0;
                    for (int c = 0; c < DIM; c++) {
                        g += sg[r * DIM + c] * x[t * DIM + c];
                        u += su[r * DIM + c] * x[t * DIM + c];
                    }
                    h[r] = activation(Ffn.Activation.SILU, g, u);
                }
                for (int r = 0; r < DIM; r++) {
                    double y = 0;
                    for (int c = 0; c < sharedFf; c++) y += sd[r * sharedFf + c] * h[c];
                    out[t * DIM + r] += y / (1 + Math.exp(-gl));
                }
            }
        }
        return out;
    }

    static double activation(Ffn.Activation act, double g, double u) {
        return switch (act) {
            case SILU -> g / (1 + Math.exp(-g)) * u;
            case SWIGLU_OAI -> {
                double x = Math.min(g, 7), y = Math.max(-7, Math.min(u, 7));
                yield x / (1 + Math.exp(-1.702 * x)) * (y + 1);
            }
            case GELU -> throw new UnsupportedOperationException();
        };
    }

    static float[] input(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n * DIM];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    @ParameterizedTest(name = "{0} of {1} experts, {2}, gating {3}, norm {4}, scale {5}, biases {6}, shared {7}, {8}")
    @CsvSource({
            "8, 2, F32, SOFTMAX, true, 0, false, 0, SILU",
            "8, 2, Q8_0, SOFTMAX, true, 0, false, 0, SILU",
            "16, 4, Q4_0, SOFTMAX, false, 0, false, 0, SILU",
            "6, 6, F32, SIGMOID, false, 2.5, false, 0, SILU",
            "5, 3, Q8_0, SIGMOID, true, 0, false, 0, SILU",
            "8, 2, F32, SOFTMAX_WEIGHT, false, 0, true, 0, SWIGLU_OAI",
            "8, 2, Q8_0, SOFTMAX_WEIGHT, false, 0, true, 0, SWIGLU_OAI",
            "4, 1, F32, SOFTMAX, false, 0, false, 48, SILU",
            "8, 3, Q8_0, SOFTMAX, false, 0, false, 32, SILU"})
    void matchesTheDefinitionAndABatchEqualsEachTokenAlone(int experts, int used, GGMLType type, Moe.Gating gating, boolean norm,
                                                          float scale, boolean biases, int sharedFf, Ffn.Activation act) throws IOException {
        Spec s = new Spec(experts, used, type, biases, biases, sharedFf, Map.of());
        if (scale != 0) s = s.with("expert_weights_scale", scale);
        // Gating and normalisation from the file's keys where given, else the "architecture's" defaults: both paths.
        if (gating == Moe.Gating.SIGMOID) s = s.with("expert_gating_func", 2).with("expert_weights_norm", norm);
        Path p = write(s, "moe", null);
        try (GGUFFile f = GGUFFile.open(p)) {
            Hparams hp = new Hparams(f);
            Moe.Routing rt = Moe.Routing.read(hp, gating == Moe.Gating.SIGMOID ? Moe.Gating.SOFTMAX : gating, norm);
            assertEquals(gating, rt.gating());
            assertEquals(norm, rt.normalize());
            assertEquals(scale == 0 ? 1f : scale, rt.scale());
            Moe.Workspace ws = new Moe.Workspace();
            Moe moe = Moe.load(new Weights(f), 0, DIM, FF, rt, act, sharedFf, ws);
            assertEquals(sharedFf, moe.width(), "the caller's buffers serve the shared expert only");
            int n = 11;
            float[] x = input(n, 5), out = new float[n * DIM], gate = new float[n * sharedFf], up = new float[n * sharedFf];
            moe.forward(x, n, gate, up, out);
            double[] want = reference(f, rt, act, sharedFf, x, n);
            double max = 0, err = 0;
            for (int i = 0; i < want.length; i++) {
                max = Math.max(max, Math.abs(want[i]));
                err = Math.max(err, Math.abs(want[i] - out[i]));
            }
            // F32: float rounding only. Quantized experts: the native kernels' 8-bit activations (about 1 %).
            double tol = (type == GGMLType.F32 ? 1e-5 : 3e-2) * max;
            assertTrue(err <= tol, "max |diff| " + err + " against outputs up to " + max);

            // Expert-grouped batch == each token alone; and out may be the input array. Up to float
            // rounding only: the Vector API may sum a vector's lanes in another order once the JIT
            // has compiled the dot products (a difference in the last bit between early and late calls).
            float[] one = new float[DIM];
            float eps = (float) (1e-6 * max);
            for (int t = 0; t < n; t++) {
                float[] xt = java.util.Arrays.copyOfRange(x, t * DIM, (t + 1) * DIM);
                moe.forward(xt, 1, gate, up, one);
                for (int i = 0; i < DIM; i++) assertEquals(out[t * DIM + i], one[i], eps, "token " + t);
            }
            float[] inPlace = x.clone();
            moe.forward(inPlace, n, gate, up, inPlace);
            for (int i = 0; i < out.length; i++) assertEquals(out[i], inPlace[i], eps, "out aliasing x");
        }
    }

    @Test
    void theWeightsScaleAndNormaliseAsLlamaCpp() throws IOException {
        Path p = write(spec(4, 2, GGMLType.F32).with("expert_weights_scale", 2f), "w", null);
        try (GGUFFile f = GGUFFile.open(p)) {
            Moe moe = Moe.load(new Weights(f), 0, DIM, FF, Moe.Routing.read(new Hparams(f), Moe.Gating.SOFTMAX, true), Ffn.Activation.SILU, 0,
                    new Moe.Workspace());
            int[] chosen = new int[2];
            float[] w = new float[2];
            moe.route(new float[]{1f, 3f, 2f, 3f}, 0, chosen, w, 0, new float[4]);
            assertArrayEquals(new int[]{1, 3}, chosen, "best first, ties to the lower index");
            assertArrayEquals(new float[]{1f, 1f}, w, 1e-6f, "normalised to sum 1, then scaled by 2");
        }
    }

    static void assertFails(Path p, String... expected) {
        GGUFException e = assertThrows(GGUFException.class, () -> {
            try (GGUFFile f = GGUFFile.open(p)) {
                Hparams hp = new Hparams(f);
                Moe.load(new Weights(f), 0, DIM, FF, Moe.Routing.read(hp, Moe.Gating.SOFTMAX, true), Ffn.Activation.SILU, 0, new Moe.Workspace());
            }
        });
        assertTrue(e.getMessage().contains(p.toString()), "names the file: " + e.getMessage());
        for (String s : expected) assertTrue(e.getMessage().contains(s), "'" + s + "' in: " + e.getMessage());
    }

    @Test
    void hostileRoutingMetadataIsOneClearError() throws IOException {
        assertFails(write(spec(4, 5, GGMLType.F32), "used", null), "moetest.expert_used_count", "exceeds expert_count 4");
        assertFails(write(spec(4, 2, GGMLType.F32), "zero", w -> w.putU32("moetest.expert_count", 0)), "moetest.expert_count", "outside 1..");
        assertFails(write(spec(4, 2, GGMLType.F32), "nouse", w -> w.putU32("moetest.expert_used_count", 0)), "moetest.expert_used_count");
        assertFails(write(spec(4, 2, GGMLType.F32), "many", w -> w.putU32("moetest.expert_count", 1 << 20)), "moetest.expert_count");
        assertFails(write(spec(4, 2, GGMLType.F32).with("expert_gating_func", 9), "gating"), "moetest.expert_gating_func");
        assertFails(write(spec(4, 2, GGMLType.F32).with("expert_group_count", 2), "groups"), "moetest.expert_group_count");
        assertFails(write(spec(4, 2, GGMLType.F32).with("expert_weights_scale", -1f), "scale"), "moetest.expert_weights_scale");
    }

    private Path write(Spec s, String name) throws IOException {
        return write(s, name, null);
    }

    @Test
    void mismatchedExpertTensorsAreOneClearError() throws IOException {
        // The file says 4 experts; the tensors hold 3 (expert_count disagrees with the tensors).
        assertFails(write(spec(3, 2, GGMLType.F32), "count", w -> w.putU32("moetest.expert_count", 4)), "ffn_gate_inp.weight");
        Spec s = spec(4, 2, GGMLType.F32);
        wrongShapes = Map.of("blk.0.ffn_down_exps.weight", new long[]{FF, DIM, 3});
        assertFails(write(s, "down"), "blk.0.ffn_down_exps.weight", "[32, 64, 3]", "expected [32, 64, 4]");
        wrongShapes = Map.of("blk.0.ffn_up_exps.weight", new long[]{DIM, FF * 4});
        assertFails(write(s, "flat"), "blk.0.ffn_up_exps.weight", "expected [64, 32, 4]");
        wrongShapes = Map.of("blk.0.ffn_up_exps.bias", new long[]{FF * 4});
        assertFails(write(new Spec(4, 2, GGMLType.F32, false, true, 0, Map.of()), "bias"), "blk.0.ffn_up_exps.bias", "expected [32, 4]");
        wrongShapes = Map.of();
    }
}
