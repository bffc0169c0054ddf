package io.sluice.tensor;

import io.sluice.gguf.GGMLType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Decodes blocks with known bytes. The expected values come from reference decoders written here
 * in the loop order of ggml's dequantize_row_* (pointer walks, running bit masks), a different
 * route from the formats' own indexing, so a misplaced byte or bit shows up as a mismatch.
 */
class FormatLayoutTest {
    private static final short HALF = 0x3800;    // fp16 0.5
    private static final short QUARTER = 0x3400; // fp16 0.25

    @Test
    void q4_0HandBuiltBlock() {
        byte[] b = new byte[18];
        putF16(b, 0, (short) 0x3C00); // d = 1
        b[2] = (byte) 0x9F;           // value 0 = 15 - 8, value 16 = 9 - 8
        b[17] = (byte) 0x08;          // value 15 = 8 - 8, value 31 = 0 - 8
        float[] v = decode(GGMLType.Q4_0, b, 32);
        assertEquals(7f, v[0]);
        assertEquals(1f, v[16]);
        assertEquals(0f, v[15]);
        assertEquals(-8f, v[31]);
        assertEquals(-8f, v[1], "nibble 0 means -8");
    }

    @Test
    void q8_0HandBuiltBlock() {
        byte[] b = new byte[34];
        putF16(b, 0, (short) 0x4000); // d = 2
        b[2] = -128;
        b[3] = 127;
        b[33] = -1;
        float[] v = decode(GGMLType.Q8_0, b, 32);
        assertEquals(-256f, v[0]);
        assertEquals(254f, v[1]);
        assertEquals(-2f, v[31]);
        assertEquals(0f, v[2]);
    }

    @Test
    void q5_1HandBuiltBlock() {
        byte[] b = new byte[24];
        putF16(b, 0, (short) 0x3C00);  // d = 1
        putF16(b, 2, (short) 0xBC00);  // m = -1
        b[4] = 0x01;                   // qh bit 0: high bit of value 0
        b[7] = (byte) 0x80;            // qh bit 31: high bit of value 31
        b[8] = 0x2F;                   // value 0 = 15|16, value 16 = 2
        b[8 + 15] = (byte) 0xF0;       // value 15 = 0, value 31 = 15|16
        float[] v = decode(GGMLType.Q5_1, b, 32);
        assertEquals(31f - 1f, v[0]);
        assertEquals(2f - 1f, v[16]);
        assertEquals(-1f, v[15]);
        assertEquals(31f - 1f, v[31]);
    }

    @Test
    void q6_kHandBuiltBlock() {
        byte[] b = new byte[210];
        putF16(b, 208, (short) 0x3C00);  // d = 1
        for (int s = 0; s < 16; s++) b[192 + s] = (byte) (s - 8);
        // value 64 (h=0, g=2, l=0): high nibble of ql[0], bits 4-5 of qh[0]
        b[0] = (byte) 0x50;        // value 0 low bits 0, value 64 low bits 5
        b[128] = (byte) 0b0011_0010; // value 0 high bits 2, value 64 high bits 3
        float[] v = decode(GGMLType.Q6_K, b, 256);
        assertEquals((-8f) * ((2 << 4) - 32), v[0]);            // scale[0] = -8, q = 32 - 32 = 0 -> -0
        assertEquals((4 - 8f) * ((5 | 3 << 4) - 32), v[64]);     // scale[4] = -4, q = 53 - 32 = 21
        assertEquals((1 - 8f) * -32, v[16]);                     // all-zero bits, scale[1] = -7
    }

    @ParameterizedTest
    @EnumSource(value = GGMLType.class, names = {"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"})
    void randomBlocksMatchReferenceDecoder(GGMLType type) {
        Random rnd = new Random(type.id);
        int blocks = 3;
        byte[] data = new byte[blocks * type.typeSize];
        rnd.nextBytes(data);
        for (int i = 0; i < blocks; i++) fixScales(type, data, i * type.typeSize);
        float[] expected = reference(type, data, blocks);
        float[] actual = decode(type, data, blocks * type.blockSize);
        assertArrayEquals(expected, actual, type + " decodes differently from the reference layout");
        // dot with a one-hot vector picks single values out of the packed bytes
        Format f = Formats.of(type);
        MemorySegment seg = MemorySegment.ofArray(data);
        float[] x = new float[blocks * type.blockSize];
        for (int i = 0; i < x.length; i += 37) {
            x[i] = 1f;
            assertEquals(expected[i], f.dot(seg, 0, x, 0, x.length), Math.abs(expected[i]) * 1e-6f, type + " dot picks value " + i);
            x[i] = 0f;
        }
    }

    /** Random bytes everywhere except the fp16 scales, which get tame known values (no NaN/inf). */
    private static void fixScales(GGMLType type, byte[] b, int o) {
        switch (type) {
            case Q8_0, Q4_0, Q5_0 -> putF16(b, o, HALF);
            case Q4_1, Q5_1, Q4_K, Q5_K -> {
                putF16(b, o, HALF);
                putF16(b, o + 2, QUARTER);
            }
            case Q2_K -> {
                putF16(b, o + 80, HALF);
                putF16(b, o + 82, QUARTER);
            }
            case Q3_K -> putF16(b, o + 108, HALF);
            case Q6_K -> putF16(b, o + 208, HALF);
            default -> throw new IllegalArgumentException(type.toString());
        }
    }

    private static float[] decode(GGMLType type, byte[] data, int n) {
        float[] out = new float[n];
        Formats.of(type).dequantize(MemorySegment.ofArray(data), 0, out, 0, n);
        return out;
    }

    private static void putF16(byte[] b, int o, short v) {
        b[o] = (byte) v;
        b[o + 1] = (byte) (v >> 8);
    }

    private static float f16(byte[] b, int o) {
        return Float.float16ToFloat((short) ((b[o] & 0xFF) | (b[o + 1] & 0xFF) << 8));
    }

    private static int u(byte[] b, int o) {
        return b[o] & 0xFF;
    }

    // ---- reference decoders, following ggml-quants.c's dequantize_row_* loop by loop ----

    static float[] reference(GGMLType type, byte[] x, int nb) {
        float[] y = new float[nb * type.blockSize];
        int yi = 0;
        for (int i = 0; i < nb; i++) {
            int o = i * type.typeSize;
            switch (type) {
                case Q8_0 -> {
                    float d = f16(x, o);
                    for (int j = 0; j < 32; j++) y[yi + j] = x[o + 2 + j] * d;
                }
                case Q4_0 -> {
                    float d = f16(x, o);
                    for (int j = 0; j < 16; j++) {
                        y[yi + j] = ((u(x, o + 2 + j) & 0x0F) - 8) * d;
                        y[yi + j + 16] = ((u(x, o + 2 + j) >> 4) - 8) * d;
                    }
                }
                case Q4_1 -> {
                    float d = f16(x, o), m = f16(x, o + 2);
                    for (int j = 0; j < 16; j++) {
                        y[yi + j] = (u(x, o + 4 + j) & 0x0F) * d + m;
                        y[yi + j + 16] = (u(x, o + 4 + j) >> 4) * d + m;
                    }
                }
                case Q5_0, Q5_1 -> {
                    boolean hasMin = type == GGMLType.Q5_1;
                    float d = f16(x, o), m = hasMin ? f16(x, o + 2) : 0f;
                    int qhAt = hasMin ? o + 4 : o + 2;
                    int qh = u(x, qhAt) | u(x, qhAt + 1) << 8 | u(x, qhAt + 2) << 16 | u(x, qhAt + 3) << 24;
                    for (int j = 0; j < 16; j++) {
                        int xh0 = ((qh >>> j) << 4) & 0x10;
                        int xh1 = (qh >>> (j + 12)) & 0x10;
                        int x0 = (u(x, qhAt + 4 + j) & 0x0F) | xh0;
                        int x1 = (u(x, qhAt + 4 + j) >> 4) | xh1;
                        if (hasMin) {
                            y[yi + j] = x0 * d + m;
                            y[yi + j + 16] = x1 * d + m;
                        } else {
                            y[yi + j] = (x0 - 16) * d;
                            y[yi + j + 16] = (x1 - 16) * d;
                        }
                    }
                }
                case Q2_K -> {
                    float d = f16(x, o + 80), min = f16(x, o + 82);
                    int q = o + 16, is = 0, yy = yi;
                    for (int n = 0; n < 256; n += 128) {
                        int shift = 0;
                        for (int j = 0; j < 4; j++) {
                            int sc = u(x, o + is++);
                            float dl = d * (sc & 0xF), ml = min * (sc >> 4);
                            for (int l = 0; l < 16; l++) y[yy++] = dl * ((u(x, q + l) >> shift) & 3) - ml;
                            sc = u(x, o + is++);
                            dl = d * (sc & 0xF);
                            ml = min * (sc >> 4);
                            for (int l = 0; l < 16; l++) y[yy++] = dl * ((u(x, q + l + 16) >> shift) & 3) - ml;
                            shift += 2;
                        }
                        q += 32;
                    }
                }
                case Q3_K -> {
                    float dAll = f16(x, o + 108);
                    // unpack the 12 scale bytes the way ggml does, through four little-endian words
                    int[] aux = new int[4];
                    for (int w = 0; w < 3; w++) {
                        int p = o + 96 + 4 * w;
                        aux[w] = u(x, p) | u(x, p + 1) << 8 | u(x, p + 2) << 16 | u(x, p + 3) << 24;
                    }
                    int tmp = aux[2];
                    int k1 = 0x03030303, k2 = 0x0f0f0f0f;
                    aux[2] = ((aux[0] >>> 4) & k2) | (((tmp >>> 4) & k1) << 4);
                    aux[3] = ((aux[1] >>> 4) & k2) | (((tmp >>> 6) & k1) << 4);
                    aux[0] = (aux[0] & k2) | (((tmp) & k1) << 4);
                    aux[1] = (aux[1] & k2) | (((tmp >>> 2) & k1) << 4);
                    byte[] scales = new byte[16];
                    for (int k = 0; k < 16; k++) scales[k] = (byte) (aux[k / 4] >>> (8 * (k % 4)));
                    int q = o + 32, hm = o, m = 1, is = 0, yy = yi;
                    for (int n = 0; n < 256; n += 128) {
                        int shift = 0;
                        for (int j = 0; j < 4; j++) {
                            float dl = dAll * (scales[is++] - 32);
                            for (int l = 0; l < 16; l++) y[yy++] = dl * (((u(x, q + l) >> shift) & 3) - ((u(x, hm + l) & m) != 0 ? 0 : 4));
                            dl = dAll * (scales[is++] - 32);
                            for (int l = 0; l < 16; l++) y[yy++] = dl * (((u(x, q + l + 16) >> shift) & 3) - ((u(x, hm + l + 16) & m) != 0 ? 0 : 4));
                            shift += 2;
                            m <<= 1;
                        }
                        q += 32;
                    }
                }
                case Q4_K, Q5_K -> {
                    boolean five = type == GGMLType.Q5_K;
                    float d = f16(x, o), min = f16(x, o + 2);
                    int ql = five ? o + 48 : o + 16, qh = o + 16, is = 0, yy = yi;
                    int u1 = 1, u2 = 2;
                    for (int j = 0; j < 256; j += 64) {
                        float d1 = d * scaleK4(x, o + 4, is, false), m1 = min * scaleK4(x, o + 4, is, true);
                        float d2 = d * scaleK4(x, o + 4, is + 1, false), m2 = min * scaleK4(x, o + 4, is + 1, true);
                        for (int l = 0; l < 32; l++) {
                            int hb = five && (u(x, qh + l) & u1) != 0 ? 16 : 0;
                            y[yy++] = d1 * ((u(x, ql + l) & 0xF) + hb) - m1;
                        }
                        for (int l = 0; l < 32; l++) {
                            int hb = five && (u(x, qh + l) & u2) != 0 ? 16 : 0;
                            y[yy++] = d2 * ((u(x, ql + l) >> 4) + hb) - m2;
                        }
                        ql += 32;
                        is += 2;
                        u1 <<= 2;
                        u2 <<= 2;
                    }
                }
                case Q6_K -> {
                    float d = f16(x, o + 208);
                    int ql = o, qh = o + 128, sc = o + 192, yy = yi;
                    for (int n = 0; n < 256; n += 128) {
                        for (int l = 0; l < 32; l++) {
                            int is = l / 16;
                            int q1 = ((u(x, ql + l) & 0xF) | ((u(x, qh + l) >> 0) & 3) << 4) - 32;
                            int q2 = ((u(x, ql + l + 32) & 0xF) | ((u(x, qh + l) >> 2) & 3) << 4) - 32;
                            int q3 = ((u(x, ql + l) >> 4) | ((u(x, qh + l) >> 4) & 3) << 4) - 32;
                            int q4 = ((u(x, ql + l + 32) >> 4) | ((u(x, qh + l) >> 6) & 3) << 4) - 32;
                            y[yy + l] = d * x[sc + is] * q1;
                            y[yy + l + 32] = d * x[sc + is + 2] * q2;
                            y[yy + l + 64] = d * x[sc + is + 4] * q3;
                            y[yy + l + 96] = d * x[sc + is + 6] * q4;
                        }
                        yy += 128;
                        ql += 64;
                        qh += 32;
                        sc += 8;
                    }
                }
                default -> throw new IllegalArgumentException(type.toString());
            }
            yi += type.blockSize;
        }
        return y;
    }

    /** ggml's get_scale_min_k4, written from its definition. */
    private static int scaleK4(byte[] q, int o, int j, boolean min) {
        if (j < 4) return min ? u(q, o + j + 4) & 63 : u(q, o + j) & 63;
        return min ? (u(q, o + j + 4) >> 4) | ((u(q, o + j) >> 6) << 4)
                : (u(q, o + j + 4) & 0xF) | ((u(q, o + j - 4) >> 6) << 4);
    }
}
