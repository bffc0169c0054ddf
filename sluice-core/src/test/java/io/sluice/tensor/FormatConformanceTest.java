package io.sluice.tensor;

import io.sluice.Fixtures;
import io.sluice.gguf.GGMLType;
import io.sluice.gguf.GGUFFile;
import io.sluice.gguf.TensorInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Proves the layouts against tensors quantized by llama.cpp itself: each tiny-llama-TYPE fixture
 * holds the weights of tiny-llama-f32 run through llama-quantize, so dequantizing a tensor of the
 * quantized file must land close to the same tensor of the f32 file. A wrong bit layout gives an
 * error around the weights' own size, not a few percent.
 */
class FormatConformanceTest {
    private static final String TENSOR = "blk.0.attn_q.weight";

    static float[] dequantizeAll(GGUFFile file, TensorInfo t) {
        long n = t.elementCount();
        float[] out = new float[Math.toIntExact(n)];
        Formats.of(t.type()).dequantize(file.data(t), 0, out, 0, out.length);
        return out;
    }

    static double rms(float[] a) {
        double s = 0;
        for (float v : a) s += (double) v * v;
        return Math.sqrt(s / a.length);
    }

    static double rmsDiff(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (double) (a[i] - b[i]) * (a[i] - b[i]);
        return Math.sqrt(s / a.length);
    }

    private static Path model(String name) {
        Path p = Fixtures.model(name);
        if (!Files.exists(p)) {
            System.err.println("\n*** SKIPPED: fixture " + p + " is missing; conformance test did NOT run ***\n");
            org.junit.jupiter.api.Assumptions.abort("fixture " + p + " missing");
        }
        return p;
    }

    /** Relative RMS bounds sit a little above what llama.cpp's own quantizers reach on these random weights. */
    @ParameterizedTest
    @CsvSource({
            "q8_0, Q8_0, 0.007",
            "q4_0, Q4_0, 0.10",
            "q4_1, Q4_1, 0.10",
            "q5_0, Q5_0, 0.05",
            "q5_1, Q5_1, 0.05",
            "q2_k, Q2_K, 0.35",
            "q3_k, Q3_K, 0.18",
            "q4_k, Q4_K, 0.09",
            "q5_k, Q5_K, 0.045",
            "q6_k, Q6_K, 0.022",
            "f16, F16, 0.0003",
            "bf16, BF16, 0.002",
    })
    void quantizedTensorMatchesF32Weights(String suffix, GGMLType type, double bound) {
        try (GGUFFile ref = GGUFFile.open(model("tiny-llama-f32.gguf"));
             GGUFFile q = GGUFFile.open(model("tiny-llama-" + suffix + ".gguf"))) {
            TensorInfo tq = q.requireTensor(TENSOR);
            assertEquals(type, tq.type(), "fixture tensor type");
            float[] want = dequantizeAll(ref, ref.requireTensor(TENSOR));
            float[] got = dequantizeAll(q, tq);
            double rel = rmsDiff(want, got) / rms(want);
            System.out.printf("conformance %-5s rel rms error %.5f%n", type, rel);
            assertTrue(rel < bound, type + ": relative RMS error " + rel + " >= " + bound);
            checkRowDots(q, tq, got);
        }
    }

    /** dot over each row of the real file must agree with dot over its dequantized values. */
    private static void checkRowDots(GGUFFile file, TensorInfo t, float[] values) {
        int cols = (int) t.dims()[0];
        long rowBytes = Formats.rowBytes(t.type(), cols);
        float[] x = new float[cols];
        java.util.Random rnd = new java.util.Random(1);
        for (int i = 0; i < cols; i++) x[i] = (float) rnd.nextGaussian();
        MemorySegment seg = file.data(t);
        Format f = Formats.of(t.type());
        for (int r = 0; r < t.rows(); r++) {
            double want = 0, mag = 0;
            for (int i = 0; i < cols; i++) {
                want += (double) values[r * cols + i] * x[i];
                mag += Math.abs((double) values[r * cols + i] * x[i]);
            }
            float got = f.dot(seg, r * rowBytes, x, 0, cols);
            assertEquals(want, got, 1e-5 * mag + 1e-30, t.type() + " row " + r);
        }
    }

    /** F16 and BF16 files hold the f32 weights rounded to nearest-even: decoding must give exactly those. */
    @ParameterizedTest
    @CsvSource({"f16, F16", "bf16, BF16"})
    void halfFilesAreExactRoundingsOfF32(String suffix, GGMLType type) {
        try (GGUFFile ref = GGUFFile.open(model("tiny-llama-f32.gguf"));
             GGUFFile q = GGUFFile.open(model("tiny-llama-" + suffix + ".gguf"))) {
            float[] want = dequantizeAll(ref, ref.requireTensor(TENSOR));
            float[] got = dequantizeAll(q, q.requireTensor(TENSOR));
            for (int i = 0; i < want.length; i++) {
                float rounded = type == GGMLType.F16 ? Half.roundToF16(want[i]) : Half.bf16ToF32(Half.f32ToBf16(want[i]));
                assertEquals(rounded, got[i], type + " value " + i);
            }
        }
    }

    /**
     * llama-quantize (no importance matrix) runs ggml's reference quantizers for the legacy types, so
     * quantizing the f32 tensor ourselves must reproduce the file's bytes exactly.
     */
    @ParameterizedTest
    @CsvSource({"q8_0", "q4_0", "q4_1", "q5_0", "q5_1"})
    void legacyQuantizersReproduceLlamaCppBytes(String suffix) {
        try (GGUFFile ref = GGUFFile.open(model("tiny-llama-f32.gguf"));
             GGUFFile q = GGUFFile.open(model("tiny-llama-" + suffix + ".gguf"))) {
            TensorInfo tq = q.requireTensor(TENSOR);
            float[] src = dequantizeAll(ref, ref.requireTensor(TENSOR));
            byte[] mine = new byte[Math.toIntExact(tq.byteSize())];
            Formats.of(tq.type()).quantize(src, 0, src.length, MemorySegment.ofArray(mine), 0);
            byte[] theirs = q.data(tq).asSlice(0, mine.length).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
            int diff = 0;
            for (int i = 0; i < mine.length; i++) if (mine[i] != theirs[i]) diff++;
            System.out.printf("quantizer %-5s differing bytes %d of %d%n", tq.type(), diff, mine.length);
            assertEquals(0, diff, tq.type() + ": " + diff + " of " + mine.length + " bytes differ from llama.cpp's");
        }
    }

    /**
     * The qwen3 fixtures in formats llama-quantize encodes without an importance matrix by a
     * deterministic reference (IQ4_NL, IQ4_XS: its scale search; TQ2_0; MXFP4): every tensor of that
     * type, re-quantized by Sluice from the f32 file, must be byte-identical, and decode close to it.
     */
    @ParameterizedTest
    @CsvSource({"iq4_nl, IQ4_NL, 0.09", "iq4_xs, IQ4_XS, 0.09", "tq2_0, TQ2_0, 0.85", "mxfp4, MXFP4, 0.13"})
    void qwen3FilesAreReproducedByteForByte(String suffix, GGMLType type, double bound) {
        try (GGUFFile ref = GGUFFile.open(model("tiny-qwen3-f32.gguf"));
             GGUFFile q = GGUFFile.open(model("tiny-qwen3-" + suffix + ".gguf"))) {
            int checked = 0;
            for (TensorInfo tq : q.tensors().values()) {
                if (tq.type() != type) continue;
                float[] src = dequantizeAll(ref, ref.requireTensor(tq.name()));
                byte[] mine = new byte[Math.toIntExact(tq.byteSize())];
                Formats.of(type).quantize(src, 0, src.length, MemorySegment.ofArray(mine), 0);
                byte[] theirs = q.data(tq).asSlice(0, mine.length).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                assertEquals(-1, java.util.Arrays.mismatch(mine, theirs), tq.name() + " (" + type + "): first byte that differs from llama-quantize's");
                double rel = rmsDiff(src, dequantizeAll(q, tq)) / rms(src);
                assertTrue(rel < bound, tq.name() + ": relative RMS error " + rel);
                checkRowDots(q, tq, dequantizeAll(q, tq));
                checked++;
            }
            System.out.printf("qwen3 %s: %d tensors reproduced%n", type, checked);
            assertTrue(checked >= 7, "expected the 2-D tensors of the file in " + type + ", found " + checked);
        }
    }

    /** The mixed recipe people download: every 2-D tensor, whatever type llama.cpp chose for it. */
    @Test
    void everyTensorOfTheMixedQ4KMFileMatchesF32() {
        try (GGUFFile ref = GGUFFile.open(model("tiny-llama-f32.gguf"));
             GGUFFile q = GGUFFile.open(model("tiny-llama-q4_k_m.gguf"))) {
            List<GGMLType> seen = new ArrayList<>();
            for (TensorInfo tq : q.tensors().values()) {
                float[] want = dequantizeAll(ref, ref.requireTensor(tq.name()));
                float[] got = dequantizeAll(q, tq);
                double rel = rmsDiff(want, got) / rms(want);
                double bound = switch (tq.type()) {
                    case F32 -> 0.0;
                    case Q8_0, Q6_K -> 0.04;
                    case Q5_0, Q5_1, Q5_K -> 0.08;
                    default -> 0.15;
                };
                assertTrue(rel <= bound, tq.name() + " (" + tq.type() + "): relative RMS error " + rel);
                if (!seen.contains(tq.type())) seen.add(tq.type());
            }
            System.out.println("q4_k_m tensor types: " + seen);
            assertTrue(seen.contains(GGMLType.Q4_K), "expected Q4_K tensors in the mixed file, saw " + seen);
        }
    }
}
