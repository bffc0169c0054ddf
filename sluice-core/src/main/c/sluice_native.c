/*
 * Sluice's optional native matmul kernels (called through the FFM API by
 * io.sluice.tensor.NativeKernels). Integer dot products of quantized weights with 8-bit
 * quantized activations, as llama.cpp does: the JDK's Vector API has no int8 dot instruction.
 *
 * Built without -march: each kernel set is compiled for its own ISA with #pragma GCC target and
 * chosen at run time from the CPU's feature bits, so the library loads on any x86-64 machine
 * (where AVX2 is missing, sl_level() is 0 and Java keeps its own kernels).
 */
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

/* ggml type ids (ggml.h), the index of the format table at the end of this file */
#define T_Q4_0 2
#define T_Q8_0 8
#define T_Q4_K 12
#define T_Q6_K 14
#define T_F16 1
#define T_IQ2_XXS 16
#define T_IQ2_XS 17
#define T_IQ3_XXS 18
#define T_IQ1_S 19
#define T_IQ3_S 21
#define T_IQ2_S 22
#define T_IQ1_M 29
#define T_BF16 30
#define T_Q4_1 3
#define T_Q5_0 6
#define T_Q5_1 7
#define T_IQ4_NL 20
#define T_MXFP4 39
#define T_Q2_K 10
#define T_Q3_K 11
#define T_Q5_K 13
#define T_IQ4_XS 23
#define T_TQ1_0 34
#define T_TQ2_0 35
#define T_COUNT 64

/* Activation forms, the ordinals of io.sluice.tensor.Activation (ggml's vec_dot_type). */
#define ACT_Q8_0 0
#define ACT_Q8_K 1
#define ACT_BF16 2
#define ACT_F32 3
#define ACT_COUNT 4

/* Kernel sets: 0 none (Java computes), 1 AVX2, 2 AVX512-VNNI, 3 AVX512-VNNI with AVX512-BF16. */
#define LEVELS 4

#ifndef PREFETCH_DISTANCE
#define PREFETCH_DISTANCE 2048
#endif
/* Weights stream from DRAM once per token: the hardware prefetcher alone leaves these loops
 * latency-bound (measured on a 2-core Xeon VM: 4 GB/s of 12.7 per core; 11 GB/s with 2 KiB ahead). */
#define PREFETCH(p) _mm_prefetch((const char *) (p) + PREFETCH_DISTANCE, _MM_HINT_T0)
/* The Q4_K and Q6_K row kernels (MoE experts read from the file mapping, 1-2 tokens per row) prefetch
 * into L2 only, further ahead: with so little arithmetic per byte, the L1 fill buffers that a T0
 * prefetch holds until its line arrives, not DRAM, capped the stream (measured on the 2-vCPU Xeon over
 * qwen3-30b-a3b's experts in decode order: 18.9 GB/s with T0 at 2 KiB, 20.8 with T1 at 2 KiB, 21.4 at 4 KiB). */
#ifndef ROW_PREFETCH_DISTANCE
#define ROW_PREFETCH_DISTANCE 4096
#endif
#define ROW_PREFETCH(p) _mm_prefetch((const char *) (p) + ROW_PREFETCH_DISTANCE, _MM_HINT_T1)

#define NT_MAX 4
#define TOKEN_TILE 64

/* Per-thread scratch (a kernel's re-laid activations for a token tile), grown as needed and kept
 * for the thread's life; NULL if it cannot be had. */
static uint8_t *scratch(size_t bytes) {
    static __thread uint8_t *buf;
    static __thread size_t cap;
    if (cap < bytes) {
        free(buf);
        cap = (bytes + 4095) & ~(size_t) 4095;
        buf = aligned_alloc(64, cap);
        if (buf == NULL) cap = 0;
    }
    return buf;
}

/* Activations for Q4_0/Q8_0 weights: 32 values, their scale, and -8 x (sums of each 4 values)
 * so that the Q4_0 kernel's -8 weight offset is its accumulator's initial value. */
typedef struct {
    int8_t qs[32];
    int32_t negc[8];
    float d;
    int32_t negsum; /* -8 x the sum of all 32: the same offset for the 8-row kernels */
} act_q8;

/* Activations for K-quant weights: 256 values, sums of each 16, scale. */
typedef struct {
    int8_t qs[256];
    int16_t bsums[16];
    float d;
} act_q8k;

/* ---- activation quantization (plain C: it is a small part of the time) --------------------- */

static int8_t round8(float v) {
    int r = (int) lrintf(v);
    return (int8_t) (r > 127 ? 127 : r < -127 ? -127 : r);
}

static void quantize_q8(const float *x, int cols, act_q8 *out) {
    for (int b = 0; b < cols / 32; b++, x += 32, out++) {
        float amax = 0;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[i]));
        float d = amax / 127, id = d != 0 ? 1 / d : 0;
        out->d = d;
        for (int k = 0; k < 8; k++) {
            int s = 0;
            for (int i = 4 * k; i < 4 * k + 4; i++) {
                out->qs[i] = round8(x[i] * id);
                s += out->qs[i];
            }
            out->negc[k] = -8 * s;
        }
        out->negsum = 0;
        for (int k = 0; k < 8; k++) out->negsum += out->negc[k];
    }
}

static void quantize_q8k(const float *x, int cols, act_q8k *out) {
    for (int b = 0; b < cols / 256; b++, x += 256, out++) {
        float amax = 0;
        for (int i = 0; i < 256; i++) amax = fmaxf(amax, fabsf(x[i]));
        float d = amax / 127, id = d != 0 ? 1 / d : 0;
        out->d = d;
        for (int k = 0; k < 16; k++) {
            int s = 0;
            for (int i = 16 * k; i < 16 * k + 16; i++) {
                out->qs[i] = round8(x[i] * id);
                s += out->qs[i];
            }
            out->bsums[k] = (int16_t) s;
        }
    }
}

/* ---- 16-row interleaved layouts ("x16") ----------------------------------------------------
 * Rows are taken in groups of 16; for each block b a group stores the 16 rows' fp16 scales (32
 * bytes), then their quants in 64-byte chunks whose 4-byte lane i holds 4 consecutive quant bytes
 * of row i. One 512-bit vpdpbusd then computes 4 products for 16 rows against one broadcast
 * 4-byte group of activations (the AVX2 kernels take each 32-byte half as 8 rows), and each
 * weight chunk is loaded once for several tokens. Q8_0 quants are stored +128 (unsigned), so
 * vpdpbusd multiplies them directly; the offset comes back through the activation sums. */

#define GROUP_ROWS 16

/* K-quants (Q4_K, Q6_K) get x16 layouts too, with everything the kernels would otherwise unpack
 * per row and token done once here: 4-bit/6-bit values regrouped so that a 64-byte chunk holds
 * 4-value groups of 16 rows, the packed 6-bit Q4_K scales and mins as one byte each, Q6_K's
 * scales as int16-ready pairs. Per (16 rows, 256 values):
 *   Q4_K (2368 bytes): d[16] fp16, dmin[16] fp16, sc[8][16] u8, m[8][16] u8, then chunk (j, k)
 *     (sub-block j < 8 of 32 values, k < 4) at 320 + 64 (4j + k): lane i byte n holds value
 *     32j + 4k + n of row i in its low nibble and value 32j + 16 + 4k + n in its high nibble.
 *   Q6_K (3392 bytes): d[16] fp16, sc pairs [8][16][2] i8 (lane i: scales 2p, 2p + 1), 32 bytes
 *     unused (keeps the chunks 64-byte aligned), low nibbles: chunk (j, k) (sub-block j < 16 of 16
 *     values, k < 2) at 320 + 64 (2j + k), lane i byte n: value 16j + 4k + n low, 16j + 8 + 4k + n
 *     high; the top 2 bits: chunk j at 2368 + 64j, lane i byte n: bits 0-1 value 16j + n, 2-3
 *     16j + 8 + n, 4-5 16j + 4 + n, 6-7 16j + 12 + n. Values are unsigned (0..15, 0..63); Q4_K's
 *     mins and Q6_K's -32 come back through the activation sums. */
#define K4X16_BYTES 2368
#define K6X16_BYTES 3392

/* One Q4_K block of 16 rows (blk[i] = row i's 144-byte block) into the x16 layout. */
static void repack_q4_k(const uint8_t *const *blk, uint8_t *o) {
    for (int i = 0; i < GROUP_ROWS; i++) {
        const uint8_t *b = blk[i], *s = b + 4;
        memcpy(o + 2 * i, b, 2);
        memcpy(o + 32 + 2 * i, b + 2, 2);
        for (int j = 0; j < 8; j++) { /* ggml's 6-bit packing of 8 scales and 8 mins in 12 bytes */
            int sc = j < 4 ? s[j] & 63 : (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
            int m = j < 4 ? s[j + 4] & 63 : (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
            o[64 + 16 * j + i] = (uint8_t) sc;
            o[192 + 16 * j + i] = (uint8_t) m;
        }
        uint8_t v[256];
        for (int c = 0; c < 4; c++) {
            for (int l = 0; l < 32; l++) {
                v[64 * c + l] = b[16 + 32 * c + l] & 0xF;
                v[64 * c + 32 + l] = b[16 + 32 * c + l] >> 4;
            }
        }
        for (int j = 0; j < 8; j++)
            for (int k = 0; k < 4; k++)
                for (int n = 0; n < 4; n++)
                    o[320 + 64 * (4 * j + k) + 4 * i + n] = (uint8_t) (v[32 * j + 4 * k + n] | (v[32 * j + 16 + 4 * k + n] << 4));
    }
}

/* One Q6_K block of 16 rows (blk[i] = row i's 210-byte block) into the x16 layout. */
static void repack_q6_k(const uint8_t *const *blk, uint8_t *o) {
    memset(o + 288, 0, 32);
    for (int i = 0; i < GROUP_ROWS; i++) {
        const uint8_t *b = blk[i], *ql = b, *qh = b + 128;
        memcpy(o + 2 * i, b + 208, 2);
        for (int j = 0; j < 16; j++) o[32 + 32 * (j / 2) + 2 * i + (j & 1)] = b[192 + j];
        uint8_t v[256];
        for (int h = 0; h < 2; h++) {
            for (int l = 0; l < 32; l++) {
                const uint8_t a = ql[64 * h + l], c = ql[64 * h + 32 + l], q = qh[32 * h + l];
                v[128 * h + l] = (a & 0xF) | ((q & 3) << 4);
                v[128 * h + 32 + l] = (c & 0xF) | (((q >> 2) & 3) << 4);
                v[128 * h + 64 + l] = (a >> 4) | (((q >> 4) & 3) << 4);
                v[128 * h + 96 + l] = (c >> 4) | (((q >> 6) & 3) << 4);
            }
        }
        for (int j = 0; j < 16; j++) {
            const uint8_t *x = v + 16 * j;
            for (int n = 0; n < 4; n++) {
                for (int k = 0; k < 2; k++)
                    o[320 + 64 * (2 * j + k) + 4 * i + n] = (uint8_t) ((x[4 * k + n] & 0xF) | ((x[8 + 4 * k + n] & 0xF) << 4));
                o[2368 + 64 * j + 4 * i + n] = (uint8_t) ((x[n] >> 4) | ((x[8 + n] >> 4) << 2) | ((x[4 + n] >> 4) << 4) | ((x[12 + n] >> 4) << 6));
            }
        }
    }
}

/* Q4_0 and Q8_0: one block of 16 rows, fp16 scales then the quants in 4-byte lanes (Q8_0 +128). */
static void repack_legacy(const uint8_t *const *blk, uint8_t *o, int qbytes, uint8_t flip) {
    for (int i = 0; i < GROUP_ROWS; i++) {
        memcpy(o + 2 * i, blk[i], 2);
        for (int k4 = 0; k4 < qbytes / 4; k4++) {
            uint8_t *q = o + 32 + 64 * k4 + 4 * i;
            for (int j = 0; j < 4; j++) q[j] = blk[i][2 + 4 * k4 + j] ^ flip;
        }
    }
}

static void repack_q4_0(const uint8_t *const *blk, uint8_t *o) { repack_legacy(blk, o, 16, 0); }
static void repack_q8_0(const uint8_t *const *blk, uint8_t *o) { repack_legacy(blk, o, 32, 0x80); }

/* The 16 levels of IQ4_NL and IQ4_XS (ggml's kvalues_iq4nl; io.sluice.tensor.IQ4_NLFormat.KVALUES). */
static const int8_t kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/* MXFP4's levels (2 x E2M1, ggml's kvalues_mxfp4) + 16, unsigned for vpdpbusd / vpmaddubsw; the
 * 16 comes back through the activation sums. */
static const uint8_t mxfp4_plus16[16] = {16, 17, 18, 19, 20, 22, 24, 28, 16, 15, 14, 13, 12, 10, 8, 4};

/* The i-quants' lattice points, handed over by Java (io.sluice.tensor.IQGrids, the only copy of
 * the data) through sl_set_grid, as 32-bit words of 4 values: point p of an 8-value grid is words
 * 2p and 2p + 1. IQ1's -1/0/1 are stored as 8v + 16 (its kernel's integer values, +-1 to come). */
static uint32_t grid_iq2xxs[2 * 256], grid_iq2xs[2 * 512], grid_iq2s[2 * 1024], grid_iq3xxs[256], grid_iq3s[512], grid_iq1s[2 * 2048];
static int grid_ready[6];
/* [m][i] = 256 if bit i of m: 8 rows' index bit 8 from a byte of a row mask (the AVX2 i-quant kernels) */
static uint16_t iq_rowbit16[256][8] __attribute__((aligned(16)));

#include "repack.inc"

/* ---- the two compiled kernel sets -------------------------------------------------------- */

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#define SL(name) name##_avx2
/* u8 x s8 products summed in groups of 4 into int32 lanes. maddubs saturates int16 pair sums,
 * which cannot happen here: unsigned operands are at most 128 and |activation| <= 127. */
#define DPBUSD(acc, u, s) _mm256_add_epi32((acc), _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1)))
#define MADDW(acc, p16, s16) _mm256_add_epi32((acc), _mm256_madd_epi16((p16), (s16)))
#include "simd.inc"
#include "kernels.inc"
#include "kernels_k.inc"
#include "kernels_b32.inc"
#include "kernels_float.inc"
#include "kernels_iq.inc"
#include "simd_end.inc"
#undef SL
#undef DPBUSD
#undef MADDW
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")
#define SL(name) name##_vnni
#define SL_AVX512 1
#define DPBUSD(acc, u, s) _mm256_dpbusd_epi32((acc), (u), (s))
#define MADDW(acc, p16, s16) _mm256_dpwssd_epi32((acc), (p16), (s16))
#include "simd.inc"
#include "kernels.inc"
#include "kernels_k.inc"
#include "kernels_b32.inc"
#include "kernels_float.inc"
#include "kernels_iq.inc"
#include "simd_end.inc"
#undef SL
#undef SL_AVX512
#undef DPBUSD
#undef MADDW
#pragma GCC pop_options

/* The same again with AVX512-BF16, for BF16 weights (vdpbf16ps); the other kernels are the VNNI ones. */
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512bf16")
#define SL(name) name##_bf16
#define SL_AVX512 1
#define SL_BF16 1
#define DPBUSD(acc, u, s) _mm256_dpbusd_epi32((acc), (u), (s))
#define MADDW(acc, p16, s16) _mm256_dpwssd_epi32((acc), (p16), (s16))
#include "simd.inc"
#include "kernels.inc"
#include "kernels_k.inc"
#include "kernels_b32.inc"
#include "kernels_float.inc"
#include "kernels_iq.inc"
#include "simd_end.inc"
#undef SL
#undef SL_AVX512
#undef SL_BF16
#undef DPBUSD
#undef MADDW
#pragma GCC pop_options

/* ---- the tables ---------------------------------------------------------------------------
 * Everything per type is data here: which activations a format takes, its block size, its x16
 * layout (bytes per 16 rows x x16_values values, and the function that builds it from 16 rows'
 * blocks) and its kernels per level. A format without an entry is computed by Java. Adding a
 * format adds its functions and one row, nothing else. */

typedef void (*quant_fn)(const float *x, int cols, void *out);
typedef void (*row_fn)(const uint8_t *w, int64_t rowBytes, int r0, int r1, int cols,
                       const uint8_t *act, int64_t actStride, int ntok, float *out, int64_t outStride);
typedef void (*x16_fn)(const uint8_t *packed, int r0, int r1, int cols,
                       const uint8_t *act, int64_t actStride, int ntok, float *out, int64_t outStride);
/* blk[i]: row i's bytes at this column; o: one x16 unit. */
typedef void (*repack_fn)(const uint8_t *const *blk, uint8_t *o);

typedef struct {
    int block_values, block_bytes;
    quant_fn quant[LEVELS]; /* [0]: the plain C reference */
} sl_activation;

typedef struct {
    int act;
    int block_values, block_bytes;  /* the file's blocks */
    int x16_values, x16_bytes;      /* one unit of the x16 layout: 16 rows x x16_values values; 0 bytes: none */
    repack_fn repack;
    row_fn row[LEVELS];
    x16_fn x16[LEVELS];
} sl_format;

#define PER_LEVEL(name) {0, name##_avx2, name##_vnni, name##_bf16}
#define NO_ROWS {0, 0, 0, 0}

static void quant_q8_plain(const float *x, int cols, void *out) { quantize_q8(x, cols, out); }
static void quant_q8k_plain(const float *x, int cols, void *out) { quantize_q8k(x, cols, out); }
static void quant_q8_avx2(const float *x, int cols, void *out) { quantize_q8_avx2(x, cols, out); }
static void quant_q8_vnni(const float *x, int cols, void *out) { quantize_q8_vnni(x, cols, out); }
static void quant_q8k_avx2(const float *x, int cols, void *out) { quantize_q8k_avx2(x, cols, out); }
static void quant_q8k_vnni(const float *x, int cols, void *out) { quantize_q8k_vnni(x, cols, out); }
static void quant_q8_bf16(const float *x, int cols, void *out) { quantize_q8_bf16(x, cols, out); }
static void quant_q8k_bf16(const float *x, int cols, void *out) { quantize_q8k_bf16(x, cols, out); }

static void quant_f32(const float *x, int cols, void *out) { memcpy(out, x, sizeof(float) * cols); }

/* float32 to bfloat16, round to nearest-even, NaN kept quiet (ggml_compute_fp32_to_bf16; io.sluice.tensor.Half) */
static void quant_bf16(const float *x, int cols, void *out) {
    uint16_t *o = out;
    for (int i = 0; i < cols; i++) {
        uint32_t u;
        memcpy(&u, x + i, 4);
        o[i] = (u & 0x7FFFFFFF) > 0x7F800000 ? (uint16_t) ((u >> 16) | 0x40) : (uint16_t) ((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
    }
}

static const sl_activation ACTIVATIONS[ACT_COUNT] = {
    [ACT_Q8_0] = {32, sizeof(act_q8), {quant_q8_plain, quant_q8_avx2, quant_q8_vnni, quant_q8_bf16}},
    [ACT_Q8_K] = {256, sizeof(act_q8k), {quant_q8k_plain, quant_q8k_avx2, quant_q8k_vnni, quant_q8k_bf16}},
    [ACT_BF16] = {2, 4, {quant_bf16}},
    [ACT_F32] = {1, 4, {quant_f32}},
};

static const sl_format FORMATS[T_COUNT] = {
    [T_Q4_0] = {ACT_Q8_0, 32, 18, 32, 32 + 256, repack_q4_0, PER_LEVEL(row_q4_0), PER_LEVEL(x16_q4_0)},
    [T_Q8_0] = {ACT_Q8_0, 32, 34, 32, 32 + 512, repack_q8_0, PER_LEVEL(row_q8_0), PER_LEVEL(x16_q8_0)},
    [T_Q4_K] = {ACT_Q8_K, 256, 144, 256, K4X16_BYTES, repack_q4_k, PER_LEVEL(row_q4_k), PER_LEVEL(x16_q4_k)},
    [T_Q6_K] = {ACT_Q8_K, 256, 210, 256, K6X16_BYTES, repack_q6_k, PER_LEVEL(row_q6_k), PER_LEVEL(x16_q6_k)},
    [T_IQ2_XXS] = {ACT_Q8_K, 256, 66, 256, IQ2XXSX16_BYTES, repack_iq2_xxs, NO_ROWS, PER_LEVEL(x16_iq2_xxs)},
    [T_IQ2_XS] = {ACT_Q8_K, 256, 74, 256, IQ2XSX16_BYTES, repack_iq2_xs, NO_ROWS, PER_LEVEL(x16_iq2_xs)},
    [T_IQ2_S] = {ACT_Q8_K, 256, 82, 256, IQ2SX16_BYTES, repack_iq2_s, NO_ROWS, PER_LEVEL(x16_iq2_s)},
    [T_IQ3_XXS] = {ACT_Q8_K, 256, 98, 256, IQ3XXSX16_BYTES, repack_iq3_xxs, NO_ROWS, PER_LEVEL(x16_iq3_xxs)},
    [T_IQ3_S] = {ACT_Q8_K, 256, 110, 256, IQ3SX16_BYTES, repack_iq3_s, NO_ROWS, PER_LEVEL(x16_iq3_s)},
    [T_IQ1_S] = {ACT_Q8_K, 256, 50, 256, IQ1SX16_BYTES, repack_iq1_s, NO_ROWS, PER_LEVEL(x16_iq1_s)},
    [T_IQ1_M] = {ACT_Q8_K, 256, 56, 256, IQ1MX16_BYTES, repack_iq1_m, NO_ROWS, PER_LEVEL(x16_iq1_m)},
    [T_F16] = {ACT_F32, 1, 2, 32, 1024, repack_f16, NO_ROWS, PER_LEVEL(x16_f16)},
    [T_BF16] = {ACT_BF16, 1, 2, 32, 1024, repack_bf16, NO_ROWS, PER_LEVEL(x16_bf16)},
    [T_Q4_1] = {ACT_Q8_0, 32, 20, 32, 320, repack_q4_1, NO_ROWS, PER_LEVEL(x16_q4_1)},
    [T_Q5_0] = {ACT_Q8_0, 32, 22, 32, 352, repack_q5_0, NO_ROWS, PER_LEVEL(x16_q5_0)},
    [T_Q5_1] = {ACT_Q8_0, 32, 24, 32, 384, repack_q5_1, NO_ROWS, PER_LEVEL(x16_q5_1)},
    [T_IQ4_NL] = {ACT_Q8_0, 32, 18, 32, 288, repack_iq4_nl, NO_ROWS, PER_LEVEL(x16_iq4_nl)},
    [T_MXFP4] = {ACT_Q8_0, 32, 17, 32, 272, repack_mxfp4, PER_LEVEL(row_mxfp4), PER_LEVEL(x16_mxfp4)},
    [T_Q2_K] = {ACT_Q8_K, 256, 84, 256, K2X16_BYTES, repack_q2_k, NO_ROWS, PER_LEVEL(x16_q2_k)},
    [T_Q3_K] = {ACT_Q8_K, 256, 110, 256, K3X16_BYTES, repack_q3_k, NO_ROWS, PER_LEVEL(x16_q3_k)},
    [T_Q5_K] = {ACT_Q8_K, 256, 176, 256, K5X16_BYTES, repack_q5_k, NO_ROWS, PER_LEVEL(x16_q5_k)},
    [T_IQ4_XS] = {ACT_Q8_K, 256, 136, 256, IQ4XSX16_BYTES, repack_iq4_xs, NO_ROWS, PER_LEVEL(x16_iq4_xs)},
    [T_TQ1_0] = {ACT_Q8_K, 256, 54, 256, TQX16_BYTES, repack_tq1_0, NO_ROWS, PER_LEVEL(x16_tq)},
    [T_TQ2_0] = {ACT_Q8_K, 256, 66, 256, TQX16_BYTES, repack_tq2_0, NO_ROWS, PER_LEVEL(x16_tq)},
};

/* Which grid (sl_set_grid's `which`) a format's kernel reads, -1 for none. */
static int grid_of(int type) {
    switch (type) {
        case T_IQ2_XXS: return 0;
        case T_IQ2_XS: return 1;
        case T_IQ2_S: return 2;
        case T_IQ3_XXS: return 3;
        case T_IQ3_S: return 4;
        case T_IQ1_S: case T_IQ1_M: return 5;
        default: return -1;
    }
}

static const sl_format *format(int type) {
    if (type < 0 || type >= T_COUNT || FORMATS[type].block_values == 0) return NULL;
    int grid = grid_of(type);
    if (grid >= 0 && !grid_ready[grid]) return NULL; /* its points are not here yet */
    return &FORMATS[type];
}

/**
 * Sets grid `which` (0 IQ2_XXS, 1 IQ2_XS, 2 IQ2_S, 3 IQ3_XXS, 4 IQ3_S, 5 IQ1_S/IQ1_M) from
 * `count` points of `width` bytes (value j of point p at p * width + j); returns 0, or -1 if the
 * size is not that grid's.
 */
int sl_set_grid(int which, const uint8_t *points, int count, int width) {
    static uint32_t *const grids[6] = {grid_iq2xxs, grid_iq2xs, grid_iq2s, grid_iq3xxs, grid_iq3s, grid_iq1s};
    static const int counts[6] = {256, 512, 1024, 256, 512, 2048}, widths[6] = {8, 8, 8, 4, 4, 8};
    if (which < 0 || which >= 6 || count != counts[which] || width != widths[which]) return -1;
    uint8_t *g = (uint8_t *) grids[which];
    for (int i = 0; i < count * width; i++) g[i] = which == 5 ? (uint8_t) (8 * (int8_t) points[i] + 16) : points[i];
    for (int m = 0; m < 256; m++)
        for (int i = 0; i < 8; i++) iq_rowbit16[m][i] = (uint16_t) ((m >> i & 1) << 8);
    grid_ready[which] = 1;
    return 0;
}

static const sl_activation *activation(int type) {
    const sl_format *f = format(type);
    return f && ACTIVATIONS[f->act].block_values ? &ACTIVATIONS[f->act] : NULL;
}

/* ---- dispatch ------------------------------------------------------------------------------ */

static int level = -1;

/** 0: no kernels (CPU lacks AVX2/FMA/F16C), 1: AVX2, 2: AVX512-VNNI, 3: AVX512-VNNI and AVX512-BF16. */
int sl_cpu_level(void) {
    __builtin_cpu_init();
    if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) return 0;
    unsigned a, b, c, d;
    __asm__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    if (!(c & (1u << 29))) return 0; /* F16C */
    if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw"))
        return __builtin_cpu_supports("avx512bf16") ? 3 : 2;
    return 1;
}

/** Selects the kernel set (capped at what the CPU supports); returns the level in use. */
int sl_set_level(int want) {
    int max = sl_cpu_level();
    level = want < max ? want : max;
    if (level < 0) level = 0;
    return level;
}

int sl_level(void) {
    if (level < 0) sl_set_level(LEVELS - 1);
    return level;
}

/**
 * What the library computes for a ggml type, for the Java side to check against the format's
 * declaration: -1 if nothing, else the activation id | 16 if it has row kernels | 32 if it has
 * an x16 layout (kernels at every level, so the answer does not depend on the CPU).
 */
int sl_format_info(int type) {
    const sl_format *f = format(type);
    if (f == NULL) return -1;
    int rows = 1, x16 = f->x16_bytes > 0 && f->repack != NULL;
    for (int l = 1; l < LEVELS; l++) {
        rows &= f->row[l] != NULL;
        x16 &= f->x16[l] != NULL;
    }
    return f->act | (rows ? 16 : 0) | (x16 ? 32 : 0);
}

/** Bytes of quantized activations for one token of {@code cols} values feeding weights of {@code type}; 0 if unsupported. */
int64_t sl_act_bytes(int type, int cols) {
    const sl_activation *a = activation(type);
    if (a == NULL || cols <= 0 || cols % a->block_values) return 0;
    return (int64_t) (cols / a->block_values) * a->block_bytes;
}

static void quantize_with(int lv, int type, const float *x, int64_t xStride, int cols, int t0, int t1, uint8_t *out, int64_t outStride) {
    const sl_activation *a = activation(type);
    if (a == NULL) return;
    quant_fn q = a->quant[lv] ? a->quant[lv] : a->quant[0];
    for (int t = t0; t < t1; t++) q(x + t * xStride, cols, out + t * outStride);
}

/** Quantizes tokens [t0, t1) of x (xStride floats apart) into out (outStride bytes apart). */
void sl_quantize(int type, const float *x, int64_t xStride, int cols, int t0, int t1, uint8_t *out, int64_t outStride) {
    quantize_with(sl_level(), type, x, xStride, cols, t0, t1, out, outStride);
}

/** The plain C quantizer, for tests: the vectorized ones must match it byte for byte. */
void sl_quantize_reference(int type, const float *x, int64_t xStride, int cols, int t0, int t1, uint8_t *out, int64_t outStride) {
    quantize_with(0, type, x, xStride, cols, t0, t1, out, outStride);
}

/**
 * out[t * outStride + r] = row r of w . activation t, for r in [r0, r1) and t < ntok; w holds
 * rows of rowBytes bytes in ggml format `type`, act the tokens' quantized activations.
 */
void sl_matmul(int type, const uint8_t *w, int64_t rowBytes, int r0, int r1, int cols,
               const uint8_t *act, int64_t actStride, int ntok, float *out, int64_t outStride) {
    const sl_format *f = format(type);
    if (f != NULL && f->row[sl_level()] != NULL) f->row[sl_level()](w, rowBytes, r0, r1, cols, act, actStride, ntok, out, outStride);
}

/** Bytes of the x16 layout of a rows x cols matrix (the last group padded to 16 rows); 0 if this type or shape has none. */
int64_t sl_repacked_bytes(int type, int rows, int cols) {
    const sl_format *f = format(type);
    if (f == NULL || f->x16_bytes == 0 || rows <= 0 || cols <= 0 || cols % f->x16_values) return 0;
    return (int64_t) ((rows + GROUP_ROWS - 1) / GROUP_ROWS) * (cols / f->x16_values) * f->x16_bytes;
}

/* Zero bytes standing in for the padding rows of a last group (every format decodes them as 0). */
static const uint8_t ZERO_ROW[1024];

/** Writes row groups [g0, g1) (16 rows each; rows beyond `rows` as zeros) of the x16 layout of src (rows of rowBytes bytes) into dst. */
void sl_repack(int type, const uint8_t *src, int64_t rowBytes, int rows, int cols, int g0, int g1, uint8_t *dst) {
    const sl_format *f = format(type);
    if (f == NULL || f->repack == NULL) return;
    const int nu = cols / f->x16_values;
    const int64_t unitIn = (int64_t) f->x16_values / f->block_values * f->block_bytes;
    if (unitIn > (int64_t) sizeof(ZERO_ROW)) return;
    for (int g = g0; g < g1; g++) {
        for (int u = 0; u < nu; u++) {
            const uint8_t *blk[GROUP_ROWS];
            for (int i = 0; i < GROUP_ROWS; i++) {
                int r = GROUP_ROWS * g + i;
                blk[i] = r < rows ? src + (int64_t) r * rowBytes + u * unitIn : ZERO_ROW;
            }
            f->repack(blk, dst + ((int64_t) g * nu + u) * f->x16_bytes);
        }
    }
}

/** Like sl_matmul on the x16 layout (from sl_repack): rows [r0, r1), r0 a multiple of 16. */
void sl_matmul_x16(int type, const uint8_t *packed, int r0, int r1, int cols,
                   const uint8_t *act, int64_t actStride, int ntok, float *out, int64_t outStride) {
    const sl_format *f = format(type);
    if (f != NULL && f->x16[sl_level()] != NULL) f->x16[sl_level()](packed, r0, r1, cols, act, actStride, ntok, out, outStride);
}
