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
#include <string.h>
#include <math.h>

#define T_Q4_0 2
#define T_Q8_0 8
#define T_Q4_K 12
#define T_Q6_K 14

#ifndef PREFETCH_DISTANCE
#define PREFETCH_DISTANCE 2048
#endif
/* Weights stream from DRAM once per token: the hardware prefetcher alone leaves these loops
 * latency-bound (measured on a 2-core Xeon VM: 4 GB/s of 12.7 per core; 11 GB/s with 2 KiB ahead). */
#define PREFETCH(p) _mm_prefetch((const char *) (p) + PREFETCH_DISTANCE, _MM_HINT_T0)

#define NT_MAX 4
#define TOKEN_TILE 64

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

static int is_k(int type) { return type == T_Q4_K || type == T_Q6_K; }

/** Bytes of quantized activations for one token of {@code cols} values feeding weights of {@code type}; 0 if unsupported. */
int64_t sl_act_bytes(int type, int cols) {
    switch (type) {
        case T_Q4_0: case T_Q8_0: return cols % 32 ? 0 : (int64_t) (cols / 32) * sizeof(act_q8);
        case T_Q4_K: case T_Q6_K: return cols % 256 ? 0 : (int64_t) (cols / 256) * sizeof(act_q8k);
        default: return 0;
    }
}

/* The reference quantizer (the kernel sets have vectorized copies with identical results). */
static void quantize_plain(int type, const float *x, int64_t xStride, int cols, int t0, int t1, uint8_t *out, int64_t outStride) {
    for (int t = t0; t < t1; t++) {
        if (is_k(type)) quantize_q8k(x + t * xStride, cols, (act_q8k *) (out + t * outStride));
        else quantize_q8(x + t * xStride, cols, (act_q8 *) (out + t * outStride));
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

static int x16_block_values(int type) { return is_k(type) ? 256 : 32; }

static int64_t x16_block_bytes(int type) {
    switch (type) {
        case T_Q4_0: return 32 + 256;
        case T_Q8_0: return 32 + 512;
        case T_Q4_K: return K4X16_BYTES;
        case T_Q6_K: return K6X16_BYTES;
        default: return 0;
    }
}

/** Bytes of the x16 layout of a rows x cols matrix; 0 if this type or shape has none. */
int64_t sl_repacked_bytes(int type, int rows, int cols) {
    int64_t bb = x16_block_bytes(type);
    int bv = x16_block_values(type);
    if (bb == 0 || rows <= 0 || rows % GROUP_ROWS || cols <= 0 || cols % bv) return 0;
    return (int64_t) (rows / GROUP_ROWS) * (cols / bv) * bb;
}

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

/** Writes row groups [g0, g1) (16 rows each) of the x16 layout of src (rows of rowBytes bytes) into dst. */
void sl_repack(int type, const uint8_t *src, int64_t rowBytes, int cols, int g0, int g1, uint8_t *dst) {
    int bv = x16_block_values(type), nb = cols / bv;
    int64_t bb = x16_block_bytes(type);
    if (is_k(type)) {
        int inBlock = type == T_Q4_K ? 144 : 210;
        for (int g = g0; g < g1; g++) {
            for (int b = 0; b < nb; b++) {
                const uint8_t *blk[GROUP_ROWS];
                for (int i = 0; i < GROUP_ROWS; i++) blk[i] = src + (int64_t) (GROUP_ROWS * g + i) * rowBytes + (int64_t) b * inBlock;
                uint8_t *o = dst + ((int64_t) g * nb + b) * bb;
                if (type == T_Q4_K) repack_q4_k(blk, o);
                else repack_q6_k(blk, o);
            }
        }
        return;
    }
    int qbytes = type == T_Q4_0 ? 16 : 32, inBlock = type == T_Q4_0 ? 18 : 34;
    uint8_t flip = type == T_Q8_0 ? 0x80 : 0;
    for (int g = g0; g < g1; g++) {
        for (int b = 0; b < nb; b++) {
            uint8_t *o = dst + ((int64_t) g * nb + b) * bb;
            for (int i = 0; i < GROUP_ROWS; i++) {
                const uint8_t *blk = src + (int64_t) (GROUP_ROWS * g + i) * rowBytes + (int64_t) b * inBlock;
                memcpy(o + 2 * i, blk, 2);
                for (int k4 = 0; k4 < qbytes / 4; k4++) {
                    uint8_t *q = o + 32 + 64 * k4 + 4 * i;
                    for (int j = 0; j < 4; j++) q[j] = blk[2 + 4 * k4 + j] ^ flip;
                }
            }
        }
    }
}

/* ---- the two compiled kernel sets -------------------------------------------------------- */

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#define SL(name) name##_avx2
/* u8 x s8 products summed in groups of 4 into int32 lanes. maddubs saturates int16 pair sums,
 * which cannot happen here: unsigned operands are at most 128 and |activation| <= 127. */
#define DPBUSD(acc, u, s) _mm256_add_epi32((acc), _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1)))
#define MADDW(acc, p16, s16) _mm256_add_epi32((acc), _mm256_madd_epi16((p16), (s16)))
#include "kernels.inc"
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
#include "kernels.inc"
#undef SL
#undef SL_AVX512
#undef DPBUSD
#undef MADDW
#pragma GCC pop_options

/* ---- dispatch ------------------------------------------------------------------------------ */

static int level = -1;

/** 0: no kernels (CPU lacks AVX2/FMA/F16C), 1: AVX2, 2: AVX512-VNNI. */
int sl_cpu_level(void) {
    __builtin_cpu_init();
    if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) return 0;
    unsigned a, b, c, d;
    __asm__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    if (!(c & (1u << 29))) return 0; /* F16C */
    if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw")) return 2;
    return 1;
}

/** Selects the kernel set (capped at what the CPU supports); returns the level in use. */
int sl_set_level(int want) {
    int max = sl_cpu_level();
    level = want < max ? want : max;
    return level;
}

int sl_level(void) {
    if (level < 0) sl_set_level(2);
    return level;
}

/** Quantizes tokens [t0, t1) of x (xStride floats apart) into out (outStride bytes apart). */
void sl_quantize(int type, const float *x, int64_t xStride, int cols, int t0, int t1, uint8_t *out, int64_t outStride) {
    switch (sl_level()) {
        case 2: quantize_vnni(type, x, xStride, cols, t0, t1, out, outStride); break;
        case 1: quantize_avx2(type, x, xStride, cols, t0, t1, out, outStride); break;
        default: quantize_plain(type, x, xStride, cols, t0, t1, out, outStride); break;
    }
}

/** The plain C quantizer, for tests: the vectorized ones must match it byte for byte. */
void sl_quantize_reference(int type, const float *x, int64_t xStride, int cols, int t0, int t1, uint8_t *out, int64_t outStride) {
    quantize_plain(type, x, xStride, cols, t0, t1, out, outStride);
}

/**
 * out[t * outStride + r] = row r of w . activation t, for r in [r0, r1) and t < ntok; w holds
 * rows of rowBytes bytes in ggml format `type`, act the tokens' quantized activations.
 */
void sl_matmul(int type, const uint8_t *w, int64_t rowBytes, int r0, int r1, int cols,
               const uint8_t *act, int64_t actStride, int ntok, float *out, int64_t outStride) {
    switch (sl_level()) {
        case 2: matmul_vnni(type, w, rowBytes, r0, r1, cols, act, actStride, ntok, out, outStride); break;
        case 1: matmul_avx2(type, w, rowBytes, r0, r1, cols, act, actStride, ntok, out, outStride); break;
        default: break;
    }
}

/**
 * Like sl_matmul on the x16 layout (from sl_repack): rows [r0, r1), both multiples of 16.
 */
void sl_matmul_x16(int type, const uint8_t *packed, int r0, int r1, int cols,
                  const uint8_t *act, int64_t actStride, int ntok, float *out, int64_t outStride) {
    switch (sl_level()) {
        case 2: matmul_x16_vnni(type, packed, r0, r1, cols, act, actStride, ntok, out, outStride); break;
        case 1: matmul_x16_avx2(type, packed, r0, r1, cols, act, actStride, ntok, out, outStride); break;
        default: break;
    }
}
