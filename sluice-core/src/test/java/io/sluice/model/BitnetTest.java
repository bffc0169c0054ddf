package io.sluice.model;

import io.sluice.gguf.GGMLType;
import io.sluice.gguf.GGUFException;
import io.sluice.gguf.GGUFFile;
import io.sluice.gguf.GGUFWriter;
import io.sluice.gguf.TensorInfo;
import io.sluice.tensor.Formats;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Comparator;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * BitNet b1.58 (llama.cpp's {@code bitnet}) without fixtures: a tiny model Synth writes in the
 * ternary formats (and F32) gives the logits of a float64 implementation of llama.cpp's graph
 * (src/models/bitnet.cpp) written here from its definition, on exactly dequantized weights:
 * pre-norm blocks, NeoX RoPE, attn_sub_norm before attn_output, ffn_sub_norm before ffn_down,
 * the output tied to the token embedding. The reference without the sub-norms is far off, so a
 * model that skipped them would fail.
 */
class BitnetTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"tq2_0", "tq1_0", "f32"})
    void logitsMatchAFloat64ImplementationOfTheGraph(String type) throws IOException {
        Synth.Shape shape = Synth.shape("tiny-bitnet");
        Path file = dir.resolve("bitnet-" + type + ".gguf");
        Synth.write(shape, Synth.TypeSpec.parse(type), 5, file);
        int[] tokens = SelfMadeModelTest.randomTokens(24, shape.vocabSize(), 9);
        float[] got;
        try (Model m = Model.load(file)) {
            got = LogitsConformanceTest.evaluate(m, tokens, GGMLType.F32);
        }
        double[] want, withoutSubNorms;
        try (GGUFFile f = GGUFFile.open(file)) {
            want = new Reference(f, shape, true).logits(tokens);
            withoutSubNorms = new Reference(f, shape, false).logits(tokens);
        }
        double max = 0, mean = 0, off = 0, s1 = 0, s2 = 0;
        for (int i = 0; i < got.length; i++) {
            double d = Math.abs(got[i] - want[i]);
            max = Math.max(max, d);
            mean += d / got.length;
            off = Math.max(off, Math.abs(withoutSubNorms[i] - want[i]));
            s1 += want[i];
            s2 += want[i] * want[i];
        }
        double std = Math.sqrt(s2 / got.length - s1 * s1 / got.length / got.length);
        System.out.printf("bitnet %s: logits std %.2f, max %.5f mean %.6f (without sub-norms: %.2f)%n", type, std, max, mean, off);
        // The fixtures' tolerances, made for logits of std 1 (here larger: ternary weights keep
        // the full amplitude), relative: F32 exact up to rounding, quantized types through 8-bit activations.
        double[] tol = type.equals("f32") ? new double[]{1e-3, 1e-4} : new double[]{0.15, 0.03};
        assertTrue(std > 0.5, "logits spread " + std);
        assertTrue(max <= tol[0] * std && mean <= tol[1] * std, type + ": max " + max + ", mean " + mean + " at logits std " + std);
        assertTrue(off > 0.5 * std, "the sub-norms matter: " + off);
    }

    @Test
    void perTensorScalesAreRefusedByName() throws IOException {
        Path file = dir.resolve("bitnet.gguf"), scaled = dir.resolve("bitnet-scaled.gguf");
        Synth.write(Synth.shape("tiny-bitnet"), Synth.TypeSpec.parse("tq2_0"), 5, file);
        try (GGUFFile f = GGUFFile.open(file)) {
            GGUFWriter w = new GGUFWriter();
            f.metadata().forEach((k, v) -> {
                if (!k.equals("general.alignment")) w.put(k, v);
            });
            for (TensorInfo t : f.tensors().values().stream().sorted(Comparator.comparingLong(TensorInfo::offset)).toList()) {
                w.addTensor(t.name(), t.type(), t.dims(), f.data(t));
            }
            w.addTensor("blk.1.ffn_down.scale", GGMLType.F32, new long[]{1}, new byte[]{0, 0, -128, 63});
            w.write(scaled);
        }
        GGUFException e = assertThrows(GGUFException.class, () -> Model.load(scaled).close());
        assertTrue(e.getMessage().contains("blk.1.ffn_down.scale") && e.getMessage().contains(scaled.toString()), e.getMessage());
    }

    /** llama.cpp's bitnet graph in float64, one causal batch from position 0. */
    private static final class Reference {
        final GGUFFile f;
        final Synth.Shape s;
        final boolean subNorms;
        static final double EPS = 1e-5;

        Reference(GGUFFile f, Synth.Shape s, boolean subNorms) {
            this.f = f;
            this.s = s;
            this.subNorms = subNorms;
        }

        double[] tensor(String name) {
            TensorInfo t = f.requireTensor(name);
            float[] v = new float[Math.toIntExact(t.elementCount())];
            Formats.of(t.type()).dequantize(f.data(t), 0, v, 0, v.length);
            double[] d = new double[v.length];
            for (int i = 0; i < v.length; i++) d[i] = v[i];
            return d;
        }

        /** W (rows of x.length values) times x. */
        static double[] mul(double[] w, double[] x) {
            double[] y = new double[w.length / x.length];
            for (int r = 0; r < y.length; r++) {
                double acc = 0;
                for (int c = 0; c < x.length; c++) acc += w[r * x.length + c] * x[c];
                y[r] = acc;
            }
            return y;
        }

        static double[] rms(double[] x, double[] w) {
            double ss = 0;
            for (double v : x) ss += v * v;
            double k = 1 / Math.sqrt(ss / x.length + EPS);
            double[] y = new double[x.length];
            for (int i = 0; i < x.length; i++) y[i] = x[i] * k * w[i];
            return y;
        }

        /** NeoX RoPE: in each head, value i pairs with i + headDim/2. */
        void rope(double[] v, int heads, int pos) {
            int hd = s.headDim(), half = hd / 2;
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < half; i++) {
                    double theta = pos * Math.pow(s.ropeTheta(), -2.0 * i / hd), c = Math.cos(theta), sn = Math.sin(theta);
                    int a = h * hd + i, b = a + half;
                    double x0 = v[a], x1 = v[b];
                    v[a] = x0 * c - x1 * sn;
                    v[b] = x0 * sn + x1 * c;
                }
            }
        }

        double[] logits(int[] tokens) {
            int n = tokens.length, dim = s.dim(), hd = s.headDim(), group = s.heads() / s.kvHeads();
            double[] emb = tensor("token_embd.weight");
            double[][] x = new double[n][];
            for (int t = 0; t < n; t++) x[t] = java.util.Arrays.copyOfRange(emb, tokens[t] * dim, (tokens[t] + 1) * dim);
            for (int l = 0; l < s.layers(); l++) {
                String p = "blk." + l + ".";
                double[] attnNorm = tensor(p + "attn_norm.weight"), wq = tensor(p + "attn_q.weight"), wk = tensor(p + "attn_k.weight"),
                        wv = tensor(p + "attn_v.weight"), wo = tensor(p + "attn_output.weight"), attnSub = tensor(p + "attn_sub_norm.weight"),
                        ffnNorm = tensor(p + "ffn_norm.weight"), gate = tensor(p + "ffn_gate.weight"), up = tensor(p + "ffn_up.weight"),
                        down = tensor(p + "ffn_down.weight"), ffnSub = tensor(p + "ffn_sub_norm.weight");
                double[][] q = new double[n][], k = new double[n][], v = new double[n][];
                for (int t = 0; t < n; t++) {
                    double[] h = rms(x[t], attnNorm);
                    q[t] = mul(wq, h);
                    k[t] = mul(wk, h);
                    v[t] = mul(wv, h);
                    rope(q[t], s.heads(), t);
                    rope(k[t], s.kvHeads(), t);
                }
                for (int t = 0; t < n; t++) {
                    double[] att = new double[s.heads() * hd];
                    for (int h = 0; h < s.heads(); h++) {
                        int kh = h / group;
                        double[] score = new double[t + 1];
                        double mx = Double.NEGATIVE_INFINITY, sum = 0;
                        for (int j = 0; j <= t; j++) {
                            double d = 0;
                            for (int i = 0; i < hd; i++) d += q[t][h * hd + i] * k[j][kh * hd + i];
                            score[j] = d / Math.sqrt(hd);
                            mx = Math.max(mx, score[j]);
                        }
                        for (int j = 0; j <= t; j++) sum += score[j] = Math.exp(score[j] - mx);
                        for (int j = 0; j <= t; j++) {
                            for (int i = 0; i < hd; i++) att[h * hd + i] += score[j] / sum * v[j][kh * hd + i];
                        }
                    }
                    double[] o = mul(wo, subNorms ? rms(att, attnSub) : att);
                    for (int i = 0; i < dim; i++) x[t][i] += o[i];
                    double[] h = rms(x[t], ffnNorm), g = mul(gate, h), u = mul(up, h);
                    for (int i = 0; i < g.length; i++) g[i] = g[i] / (1 + Math.exp(-g[i])) * u[i];
                    double[] d = mul(down, subNorms ? rms(g, ffnSub) : g);
                    for (int i = 0; i < dim; i++) x[t][i] += d[i];
                }
            }
            double[] outNorm = tensor("output_norm.weight");
            int vocab = s.vocabSize();
            double[] out = new double[n * vocab];
            for (int t = 0; t < n; t++) System.arraycopy(mul(emb, rms(x[t], outNorm)), 0, out, t * vocab, vocab);
            return out;
        }
    }
}
