package io.sluice.tensor;

/**
 * The form activations take before a native kernel multiplies them with weights: ggml's
 * {@code vec_dot_type} of the weight format. The native library quantizes (or converts) each token
 * once into this form; formats that take the same form can share one quantization
 * ({@link Matrix#matmulAll}). The ordinal is the id the C side uses.
 */
public enum Activation {
    /** Blocks of 32 int8 values with a float scale and their sums (ggml's Q8_0; the sums serve Q8_1's use too). */
    Q8_0,
    /** Blocks of 256 int8 values with a float scale and the sums of each 16 (ggml's Q8_K). */
    Q8_K,
    /** bfloat16, rounded to nearest-even (ggml's BF16). */
    BF16,
    /** float32 as computed (no rounding). */
    F32
}
