package io.sluice.tensor;

import jdk.incubator.vector.IntVector;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HalfTest {

    private static short f16(int bits) {
        return (short) bits;
    }

    @Test
    void f16SpecialValuesDecode() {
        assertEquals(1.0f, Half.f16ToF32(f16(0x3C00)));
        assertEquals(-2.0f, Half.f16ToF32(f16(0xC000)));
        assertEquals(65504f, Half.f16ToF32(f16(0x7BFF)));
        assertEquals(0x1p-24f, Half.f16ToF32(f16(0x0001)), "smallest subnormal");
        assertEquals(1023 * 0x1p-24f, Half.f16ToF32(f16(0x03FF)), "largest subnormal");
        assertEquals(0x1p-14f, Half.f16ToF32(f16(0x0400)), "smallest normal");
        assertEquals(Float.POSITIVE_INFINITY, Half.f16ToF32(f16(0x7C00)));
        assertEquals(Float.NEGATIVE_INFINITY, Half.f16ToF32(f16(0xFC00)));
        assertTrue(Float.isNaN(Half.f16ToF32(f16(0x7E00))));
        assertTrue(Float.isNaN(Half.f16ToF32(f16(0x7C01))));
        assertEquals(Float.floatToRawIntBits(-0.0f), Float.floatToRawIntBits(Half.f16ToF32(f16(0x8000))));
    }

    @Test
    void f16EncodeRoundsToNearestEven() {
        assertEquals(0x3C00, Half.f32ToF16(1.0f) & 0xFFFF);
        assertEquals(2048f, Half.f16ToF32(Half.f32ToF16(2049f)), "tie goes to even mantissa");
        assertEquals(2052f, Half.f16ToF32(Half.f32ToF16(2051f)), "tie goes to even mantissa");
        assertEquals(2050f, Half.f16ToF32(Half.f32ToF16(2049.01f)));
        assertEquals(65504f, Half.f16ToF32(Half.f32ToF16(65519f)));
        assertEquals(0x7C00, Half.f32ToF16(65520f) & 0xFFFF, "overflow rounds to infinity");
        assertEquals(0x0001, Half.f32ToF16(0x1p-24f) & 0xFFFF);
        assertEquals(0x0000, Half.f32ToF16(0x1p-26f) & 0xFFFF, "underflow to zero");
        assertEquals(0x8000, Half.f32ToF16(-0.0f) & 0xFFFF);
        assertEquals(0xFC00, Half.f32ToF16(Float.NEGATIVE_INFINITY) & 0xFFFF);
        assertTrue(Float.isNaN(Half.f16ToF32(Half.f32ToF16(Float.NaN))));
    }

    @Test
    void everyF16PatternRoundTrips() {
        for (int bits = 0; bits < 0x10000; bits++) {
            float f = Half.f16ToF32(f16(bits));
            if (Float.isNaN(f)) {
                assertTrue(Float.isNaN(Half.f16ToF32(Half.f32ToF16(f))));
            } else {
                assertEquals(bits, Half.f32ToF16(f) & 0xFFFF, "pattern 0x" + Integer.toHexString(bits));
            }
        }
    }

    /** The vector widening in F16Format's dot must agree bit for bit with the scalar conversion. */
    @Test
    void vectorF16WideningMatchesScalarForEveryPattern() {
        int lanes = FormatVectors.I.length();
        int[] in = new int[0x10000];
        for (int i = 0; i < in.length; i++) in[i] = i;
        float[] out = new float[lanes];
        for (int i = 0; i < in.length; i += lanes) {
            F16Format.toFloats(IntVector.fromArray(FormatVectors.I, in, i)).intoArray(out, 0);
            for (int k = 0; k < lanes; k++) {
                float expected = Float.float16ToFloat((short) (i + k));
                if (Float.isNaN(expected)) {
                    assertTrue(Float.isNaN(out[k]), "pattern 0x" + Integer.toHexString(i + k));
                } else {
                    assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(out[k]), "pattern 0x" + Integer.toHexString(i + k));
                }
            }
        }
    }

    @Test
    void bf16DecodeAndEncode() {
        assertEquals(1.0f, Half.bf16ToF32((short) 0x3F80));
        assertEquals(-1.0f, Half.bf16ToF32((short) 0xBF80));
        assertEquals(Float.POSITIVE_INFINITY, Half.bf16ToF32((short) 0x7F80));
        assertEquals(0x3F80, Half.f32ToBf16(1.0f + 0x1p-8f) & 0xFFFF, "tie rounds to even (down)");
        assertEquals(0x3F82, Half.f32ToBf16(1.0f + 3 * 0x1p-8f) & 0xFFFF, "tie rounds to even (up)");
        assertEquals(0x3F81, Half.f32ToBf16(1.0f + 0x1p-8f + 0x1p-20f) & 0xFFFF, "above the tie rounds up");
        assertEquals(0x7F80, Half.f32ToBf16(Float.MAX_VALUE) & 0xFFFF, "overflow rounds to infinity");
        short nan = Half.f32ToBf16(Float.intBitsToFloat(0x7F800001)); // signalling NaN whose payload is only in the low bits
        assertTrue(Float.isNaN(Half.bf16ToF32(nan)), "NaN must not collapse to infinity");
        assertEquals(0x8000, Half.f32ToBf16(-0.0f) & 0xFFFF);
    }

    @Test
    void everyBf16PatternRoundTrips() {
        for (int bits = 0; bits < 0x10000; bits++) {
            float f = Half.bf16ToF32((short) bits);
            if (Float.isNaN(f)) {
                assertTrue(Float.isNaN(Half.bf16ToF32(Half.f32ToBf16(f))));
            } else {
                assertEquals(bits, Half.f32ToBf16(f) & 0xFFFF);
            }
        }
    }
}
