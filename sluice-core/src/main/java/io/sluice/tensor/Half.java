package io.sluice.tensor;

/**
 * Conversions between float32 and the two 16-bit float formats found in GGUF files.
 *
 * <p>IEEE half (fp16: 1 sign, 5 exponent, 10 mantissa bits) uses the JDK's exact conversions, which
 * round to nearest-even and keep subnormals, infinities and NaN, as ggml's F16C path does.
 * bfloat16 (1 sign, 8 exponent, 7 mantissa bits) is the upper half of a float32; narrowing rounds to
 * nearest-even and turns NaN into a quiet NaN, like ggml's {@code ggml_compute_fp32_to_bf16}.
 */
public final class Half {
    private Half() {
    }

    /** fp16 bits to float32, exactly. */
    public static float f16ToF32(short bits) {
        return Float.float16ToFloat(bits);
    }

    /** float32 to fp16 bits, rounding to nearest-even; overflow becomes infinity. */
    public static short f32ToF16(float value) {
        return Float.floatToFloat16(value);
    }

    /** float32 rounded through fp16, i.e. the value ggml actually stores for a scale. */
    public static float roundToF16(float value) {
        return Float.float16ToFloat(Float.floatToFloat16(value));
    }

    /** bf16 bits to float32, exactly. */
    public static float bf16ToF32(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** float32 to bf16 bits, rounding to nearest-even; NaN stays NaN (made quiet). */
    public static short f32ToBf16(float value) {
        int u = Float.floatToRawIntBits(value);
        if ((u & 0x7FFFFFFF) > 0x7F800000) {
            return (short) ((u >>> 16) | 0x40); // keep sign and payload top, force the quiet bit
        }
        return (short) ((u + 0x7FFF + ((u >>> 16) & 1)) >>> 16);
    }
}
