package io.sluice.model;

import io.sluice.gguf.GGMLType;
import io.sluice.gguf.GGUFFile;
import io.sluice.gguf.GGUFWriter;
import io.sluice.gguf.TensorInfo;
import io.sluice.tensor.Formats;
import io.sluice.tensor.NativeKernels;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every tensor format in a whole model, without fixtures (runs in CI): a tiny llama written by
 * Synth in the format gives, through the Java kernels (float activations), the logits of the same
 * model with every tensor dequantized to F32 (Sluice's F32 path: a different kernel on exactly
 * the decoded weights), and through the native kernels (8-bit activations, as llama.cpp) the same
 * within the fixtures' tolerance for quantized types.
 */
class QuantizedModelsTest {
    @TempDir
    Path dir;

    @AfterEach
    void nativeBackOn() {
        NativeKernels.setLevel(Integer.MAX_VALUE);
    }

    @ParameterizedTest
    @ValueSource(strings = {"q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k",
            "iq4_nl", "iq4_xs", "iq3_s", "iq3_xxs", "iq2_s", "iq2_xs", "iq2_xxs", "iq1_m", "iq1_s", "tq1_0", "tq2_0", "mxfp4", "f16", "bf16"})
    void logitsMatchTheDequantizedF32Model(String type) throws IOException {
        Path q = dir.resolve("tiny-" + type + ".gguf"), f32 = dir.resolve("tiny-" + type + "-as-f32.gguf");
        Synth.write(Synth.shape("tiny"), Synth.TypeSpec.parse(type), 11, q);
        writeDequantized(q, f32);
        int[] tokens = SelfMadeModelTest.randomTokens(20, 512, 3);
        float[] ref, java, nat;
        try (Model m = Model.load(f32)) {
            ref = LogitsConformanceTest.evaluate(m, tokens, GGMLType.F32);
        }
        try (Model m = Model.load(q)) {
            nat = LogitsConformanceTest.evaluate(m, tokens, GGMLType.F32);
            NativeKernels.setLevel(0);
            java = LogitsConformanceTest.evaluate(m, tokens, GGMLType.F32);
        }
        double std = std(ref);
        assertTrue(std > 0.3, "logits spread " + std);
        double[] dj = diff(ref, java), dn = diff(ref, nat);
        System.out.printf("%-7s logits std %.3f; java max %.2e mean %.2e; native max %.4f mean %.4f%n", type, std, dj[0], dj[1], dn[0], dn[1]);
        assertTrue(dj[0] < 2e-3, type + ": Java kernels differ from the dequantized F32 model by " + dj[0]);
        double[] tol = LogitsConformanceTest.tolerance("tiny-" + type);
        assertTrue(dn[0] <= tol[0] && dn[1] <= tol[1], type + ": native kernels differ from the dequantized F32 model by max " + dn[0] + ", mean " + dn[1]);
    }

    /** A copy of the file with every tensor dequantized to F32. */
    static void writeDequantized(Path in, Path out) throws IOException {
        try (GGUFFile f = GGUFFile.open(in)) {
            GGUFWriter w = new GGUFWriter();
            f.metadata().forEach((k, v) -> {
                if (!k.equals("general.alignment")) w.put(k, v);
            });
            List<TensorInfo> order = f.tensors().values().stream().sorted(Comparator.comparingLong(TensorInfo::offset)).toList();
            for (TensorInfo t : order) {
                float[] v = new float[Math.toIntExact(t.elementCount())];
                Formats.of(t.type()).dequantize(f.data(t), 0, v, 0, v.length);
                ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
                for (float x : v) b.putFloat(x);
                w.addTensor(t.name(), GGMLType.F32, t.dims(), b.array());
            }
            w.write(out);
        }
    }

    private static double std(float[] a) {
        double s = 0, s2 = 0;
        for (float v : a) {
            s += v;
            s2 += (double) v * v;
        }
        return Math.sqrt(s2 / a.length - (s / a.length) * (s / a.length));
    }

    private static double[] diff(float[] a, float[] b) {
        double max = 0, sum = 0;
        for (int i = 0; i < a.length; i++) {
            double d = Math.abs(a[i] - b[i]);
            max = Math.max(max, d);
            sum += d;
        }
        return new double[]{max, sum / a.length};
    }
}
