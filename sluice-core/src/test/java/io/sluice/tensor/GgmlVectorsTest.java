package io.sluice.tensor;

import io.sluice.gguf.GGMLType;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Bit-exact agreement with llama.cpp: ggml-vectors.txt holds SHA-256 digests of what ggml itself
 * computed (its dequantize_row_* on generated blocks, and ggml_quantize_chunk, as llama-quantize
 * calls it, on generated rows); Sluice must produce the same bytes. Inputs are generated here by
 * the rules the harness used (so only the digests are committed): a splitmix64 stream; blocks are
 * its bytes with every fp16 field whose exponent is all ones made finite (bit 14 cleared); rows
 * are uniform in [-1, 1) times 2^(row % 13 - 8), rows with row % 7 == 3 start with 32 zeros, rows
 * with row % 5 == 1 have value (37 row) % cols times 30. -Dsluice.vectors.dump=DIR writes Sluice's
 * outputs for comparison with the harness's.
 */
class GgmlVectorsTest {
    private static final class SplitMix {
        long state;

        SplitMix(long seed) {
            state = seed;
        }

        long next() {
            long z = (state += 0x9E3779B97F4A7C15L);
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            return z ^ (z >>> 31);
        }
    }

    static byte[] blocks(GGMLType t, int n, long seed) {
        SplitMix r = new SplitMix(seed);
        int bs = t.typeSize;
        byte[] out = new byte[bs * n];
        for (int i = 0; i < out.length; i += 8) {
            long z = r.next();
            for (int k = 0; k < 8 && i + k < out.length; k++) out[i + k] = (byte) (z >>> (8 * k));
        }
        for (int b = 0; b < n; b++) sanitize(t, out, b * bs);
        return out;
    }

    /** The fp16 fields of each layout (offsets in the block); their all-ones exponents are made finite. */
    private static void sanitize(GGMLType t, byte[] b, int o) {
        int[] offs = switch (t) {
            case Q4_0, Q5_0, Q8_0, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ4_NL, IQ4_XS -> new int[]{0};
            case Q4_1, Q5_1, Q4_K, Q5_K -> new int[]{0, 2};
            case Q2_K -> new int[]{80, 82};
            case Q3_K -> new int[]{108};
            case Q6_K -> new int[]{208};
            case TQ1_0 -> new int[]{52};
            case TQ2_0 -> new int[]{64};
            case F16 -> new int[]{0};
            case BF16 -> {
                if ((b[o + 1] & 0x7F) == 0x7F && (b[o] & 0x80) != 0) b[o + 1] &= ~0x40;
                yield new int[0];
            }
            case IQ1_M -> {
                int h = ((b[o + 49] & 0xFF) >> 4) | (b[o + 51] & 0xF0) | ((b[o + 53] & 0xF0) << 4) | ((b[o + 55] & 0xF0) << 8);
                if (((h >> 10) & 0x1F) == 0x1F) b[o + 55] &= ~0x40;
                yield new int[0];
            }
            default -> new int[0];
        };
        for (int off : offs) {
            int h = (b[o + off] & 0xFF) | (b[o + off + 1] & 0xFF) << 8;
            if (((h >> 10) & 0x1F) == 0x1F) b[o + off + 1] &= ~0x40;
        }
    }

    static float[] rows(int rows, int n, long seed) {
        SplitMix r = new SplitMix(seed);
        float[] x = new float[rows * n];
        for (int row = 0; row < rows; row++) {
            float scale = 1.0f;
            int e = row % 13 - 8;
            for (int k = 0; k < Math.abs(e); k++) scale = e < 0 ? scale * 0.5f : scale * 2.0f;
            for (int i = 0; i < n; i++) {
                int u = (int) (r.next() >>> 40) - (1 << 23);
                x[row * n + i] = (float) u * 0x1p-23f * scale;
            }
            if (row % 7 == 3) for (int i = 0; i < 32 && i < n; i++) x[row * n + i] = 0.0f;
            if (row % 5 == 1) x[row * n + (row * 37) % n] *= 30.0f;
        }
        return x;
    }

    private static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    private static void dump(String name, byte[] b) throws IOException {
        String dir = System.getProperty("sluice.vectors.dump");
        if (dir != null) Files.write(Path.of(dir, name), b);
    }

    @TestFactory
    List<DynamicTest> sameBytesAsGgml() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(GgmlVectorsTest.class.getResourceAsStream("ggml-vectors.txt"), StandardCharsets.US_ASCII))) {
            String line;
            while ((line = r.readLine()) != null) {
                if (line.isBlank() || line.startsWith("#")) continue;
                String[] p = line.split(" ");
                GGMLType t = GGMLType.valueOf(p[1]);
                if (p[0].equals("dequant")) {
                    int n = Integer.parseInt(p[2]);
                    long seed = Long.parseLong(p[3]);
                    tests.add(DynamicTest.dynamicTest("dequantize " + t, () -> {
                        byte[] blk = blocks(t, n, seed);
                        int values = n * t.blockSize;
                        float[] y = new float[values];
                        Formats.of(t).dequantize(MemorySegment.ofArray(blk), 0, y, 0, values);
                        ByteBuffer bb = ByteBuffer.allocate(4 * values).order(ByteOrder.LITTLE_ENDIAN);
                        for (float v : y) bb.putFloat(v);
                        dump("dequant-" + t, bb.array());
                        assertEquals(p[4], sha256(bb.array()), t + ": dequantized values differ from ggml's dequantize_row");
                    }));
                } else {
                    int rows = Integer.parseInt(p[2]), cols = Integer.parseInt(p[3]);
                    long seed = Long.parseLong(p[4]);
                    tests.add(DynamicTest.dynamicTest("quantize " + t, () -> {
                        float[] x = rows(rows, cols, seed);
                        long rowBytes = t.byteSize(cols);
                        byte[] q = new byte[(int) (rowBytes * rows)];
                        MemorySegment seg = MemorySegment.ofArray(q);
                        for (int row = 0; row < rows; row++) Formats.of(t).quantize(x, row * cols, cols, seg, row * rowBytes);
                        dump("quant-" + t, q);
                        assertEquals(p[5], sha256(q), t + ": quantized bytes differ from ggml_quantize_chunk's");
                    }));
                }
            }
        }
        return tests;
    }
}
