/*
 * Paged causal attention over the KV cache (called through the FFM API by
 * io.sluice.model.nn.NativeAttention): one call computes the attention of a tile of query tokens
 * of one sequence, for the query heads of one KV head (GQA), over a range of KV positions - a
 * whole sequence, or one split of it whose partial softmax state Java merges (flash-decoding).
 *
 * FlashAttention-2's loop order: each chunk of up to 64 KV positions is read once for all the
 * tile's query rows (tokens x heads of the group); its scores are a small GEMM (query rows x
 * positions, SIMD over 16 positions), the online softmax rescales once per chunk, and the
 * probabilities times V accumulate in a per-thread buffer. Memory per call: the tile's rows, one
 * chunk of scores and one chunk of K/V as floats - nothing grows with the context.
 *
 * The KV layout (io.sluice.model.KvStore): per layer and KV head, a tile of `slots` positions per
 * block (the block size rounded up to 16), positions contiguous:
 *   K f32/f16:   [dim][slot] (transposed), so 16 consecutive positions of one dimension are one vector;
 *   K q8_0/q4_0/iq4_nl: fp16 scales [dim/32][slot], then 64-byte chunks of 16 positions x 4 bytes
 *     (the weights' x16 interleaving with positions as rows): q8_0 chunk (b, k < 8) holds values
 *     32b + 4k .. +3 of each position, +128; q4_0/iq4_nl chunk (b, k < 4) holds in byte n of a
 *     position's lane value 32b + 4k + n (low nibble) and 32b + 16 + 4k + n (high nibble);
 *   V: [slot][dim] rows in the type's ggml row format (f32, f16, block_q8_0, block_q4_0, block_iq4_nl).
 * Query rows are quantized to 8 bits for the integer K types (as llama.cpp does for q8_0 KV), by
 * sluice_native.c's quantizer, and multiplied with vpdpbusd.
 *
 * Two kernel sets, picked by sl_level: AVX512-VNNI (levels 2, 3) with 16-position groups, and
 * AVX2 + FMA + F16C (level 1) with 8-position groups and vpmaddubsw for the integer K types (see
 * its section). Both run the one chunk loop of attend.inc, included in each set's section. At
 * level 0 sl_attention returns -2 and Java computes.
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>
#include <math.h>

int sl_level(void);
void sl_quantize(int type, const float *x, int64_t xStride, int cols, int t0, int t1, uint8_t *out, int64_t outStride);

/* ggml type ids of the KV types */
#define KV_F32 0
#define KV_F16 1
#define KV_Q4_0 2
#define KV_Q8_0 8
#define KV_IQ4_NL 20

/* sluice_native.c's act_q8 (8-bit query blocks of 32 values); Java checks the size against sl_act_bytes. */
typedef struct {
    int8_t qs[32];
    int32_t negc[8];
    float d;
    int32_t negsum; /* -8 x the sum of the 32 values */
} att_q8;

/* The cfg array: ints of one call, filled by Java (NativeAttention mirrors these indices). */
enum {
    C_TYPE, C_DIM, C_BS, C_SLOTS, C_QSTRIDE, C_QOFF, C_GROUP, C_NTOK, C_WINDOW, C_FROM, C_TO,
    C_KTILE, C_VTILE, C_PARTIAL, C_SCRATCH, C_ROW0, C_POFF, C_COUNT
};

#define LANES 16        /* positions per group: one 512-bit float vector */
#define CHUNK 4         /* groups per chunk: 64 positions */
#define CPOS (LANES * CHUNK)
#define RB_FP 6         /* query rows per register block, float kernels */
#define RB_I8 4         /* query rows per register block, integer kernel */
#define PRECONVERT 12   /* from this many query rows on, a chunk's K/V are converted to floats once for all rows */

/* Bytes of per-thread scratch for `rows` query rows of `dim` values (Java computes the same). */
int64_t sl_attention_scratch(int rows, int dim) {
    int64_t f = 4 * (int64_t) rows * dim;                  /* scaled queries */
    f += 4 * (int64_t) rows * dim;                         /* output accumulators */
    f += 4 * 4 * (int64_t) ((rows + LANES - 1) / LANES * LANES); /* m, l, alpha, chunk maxima */
    f += 4 * (int64_t) rows * CPOS;                        /* scores */
    f += 2 * 4 * (int64_t) CPOS * dim;                     /* a chunk of K and of V as floats */
    f += (int64_t) rows * ((dim + 31) / 32) * sizeof(att_q8); /* quantized queries */
    return f + 9 * 64;                                     /* alignment of the 9 regions */
}

static inline uint8_t *align64(uint8_t *p) { return (uint8_t *) (((uintptr_t) p + 63) & ~(uintptr_t) 63); }

/* One group: a float vector's positions (16, or 8 on AVX2) of one block's tile. */
typedef struct {
    const uint8_t *k;   /* the tile's K */
    const uint8_t *v;   /* the V row of the group's first slot */
    int slot0;          /* first slot (a multiple of 16) */
    int pos0;           /* its position */
    int n;              /* positions in the group (lanes beyond are padding or past `to`) */
} group_t;

static const int8_t IQ4NL[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

static int64_t v_row_bytes(int type, int dim) {
    switch (type) {
        case KV_F32: return 4 * (int64_t) dim;
        case KV_F16: return 2 * (int64_t) dim;
        case KV_Q8_0: return (int64_t) dim / 32 * 34;
        default: return (int64_t) dim / 32 * 18;
    }
}

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512dq")

/* e^x, 16 lanes, as 2^n * 2^f (n = round(x log2 e), |f| <= 1/2) with Cephes' exp2f polynomial
 * (relative error ~1e-7). Below -104 (and -inf) it underflows to 0: the kernel runs with
 * flush-to-zero, so no denormal reaches the FMAs. Also right for x > 0 up to 88 (soft-cap's e^2x). */
static inline __m512 exp16(__m512 x) {
    __m512 t = _mm512_mul_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.0f)), _mm512_set1_ps(1.44269504088896341f));
    __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(t, n);
    __m512 p = _mm512_set1_ps(1.535336188319500E-4f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.339887440266574E-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.618437357674640E-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550332471162809E-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.402264791363012E-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931472028550421E-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* cap * tanh(x / cap) = cap * (1 - 2 / (e^(2x/cap) + 1)) */
static inline __m512 softcap16(__m512 x, float cap) {
    __m512 e = exp16(_mm512_mul_ps(x, _mm512_set1_ps(2.0f / cap)));
    __m512 t = _mm512_sub_ps(_mm512_set1_ps(1.0f), _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, _mm512_set1_ps(1.0f))));
    return _mm512_mul_ps(t, _mm512_set1_ps(cap));
}

/* ---- scores: query rows x (up to 4 groups of 16 positions) -------------------------------- */

/* Float K ([dim][slot], f32 or f16, `stride` slots between dimensions): s[r][16g + j] = q_r . k_j */
static inline __attribute__((always_inline))
void qk_fp(const int f16, const float *q, int dim, const uint8_t *const *kp, int stride, const int RB, const int NG, float *s) {
    __m512 acc[RB_FP][CHUNK];
    for (int r = 0; r < RB; r++)
        for (int g = 0; g < NG; g++) acc[r][g] = _mm512_setzero_ps();
    for (int i = 0; i < dim; i++) {
        __m512 k[CHUNK];
        for (int g = 0; g < NG; g++) {
            k[g] = f16 ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *) (kp[g] + 2 * (size_t) i * stride)))
                       : _mm512_loadu_ps((const float *) kp[g] + (size_t) i * stride);
        }
        for (int r = 0; r < RB; r++) {
            __m512 b = _mm512_set1_ps(q[(size_t) r * dim + i]);
            for (int g = 0; g < NG; g++) acc[r][g] = _mm512_fmadd_ps(b, k[g], acc[r][g]);
        }
    }
    for (int r = 0; r < RB; r++)
        for (int g = 0; g < NG; g++) _mm512_storeu_ps(s + r * CPOS + LANES * g, acc[r][g]);
}

#define QK_FP_CASES(f16, RB) \
    switch (ng) { \
        case 4: qk_fp(f16, q, dim, kp, stride, RB, 4, s); break; \
        case 3: qk_fp(f16, q, dim, kp, stride, RB, 3, s); break; \
        case 2: qk_fp(f16, q, dim, kp, stride, RB, 2, s); break; \
        default: qk_fp(f16, q, dim, kp, stride, RB, 1, s); break; \
    }

/* Row blocks of nearly equal size (7 rows: 4 + 3, not 6 + 1): each block converts and loads K once. */
static inline int row_block(int rows, int max) {
    int blocks = (rows + max - 1) / max;
    return (rows + blocks - 1) / blocks;
}

static void qk_fp_rows_avx512(int f16, const float *q, int dim, const uint8_t *const *kp, int stride, int rows, int ng, float *s) {
    const int rbs = row_block(rows, RB_FP);
    for (int r0 = 0; r0 < rows; r0 += rbs, q += (size_t) rbs * dim, s += rbs * CPOS) {
        int rb = rows - r0 < rbs ? rows - r0 : rbs;
        if (f16) {
            switch (rb) {
                case 6: QK_FP_CASES(1, 6) break; case 5: QK_FP_CASES(1, 5) break; case 4: QK_FP_CASES(1, 4) break;
                case 3: QK_FP_CASES(1, 3) break; case 2: QK_FP_CASES(1, 2) break; default: QK_FP_CASES(1, 1) break;
            }
        } else {
            switch (rb) {
                case 6: QK_FP_CASES(0, 6) break; case 5: QK_FP_CASES(0, 5) break; case 4: QK_FP_CASES(0, 4) break;
                case 3: QK_FP_CASES(0, 3) break; case 2: QK_FP_CASES(0, 2) break; default: QK_FP_CASES(0, 1) break;
            }
        }
    }
}

/* Integer K (q8_0, q4_0, iq4_nl) against 8-bit query blocks: per 32-value block b, vpdpbusd sums
 * the stored unsigned values x the query bytes for 16 positions at once, the offset (+128 or the
 * nibbles' 8) comes back through the query's sum, and the positions' and query's scales apply.
 * ks[g], kq[g]: group g's scales and quants at its first slot (block b's at + b * slots lanes). */
static inline __attribute__((always_inline))
void qk_i8(const int type, const att_q8 *qa, int nb, const uint8_t *const *ks, const uint8_t *const *kq, int slots, const int RB, const int NG, float *s) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i tbl = _mm512_broadcast_i32x4(_mm_xor_si128(_mm_loadu_si128((const __m128i *) IQ4NL), _mm_set1_epi8((char) 0x80)));
    const int corr = type == KV_Q4_0 ? 1 : 16; /* negsum is -8 x the sum: the nibbles' offset 8, or 16 of it for 128 */
    const int chunks = type == KV_Q8_0 ? 8 : 4;
    __m512 f[RB_I8][CHUNK];
    for (int r = 0; r < RB; r++)
        for (int g = 0; g < NG; g++) f[r][g] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        __m512i is[RB_I8][CHUNK];
        for (int r = 0; r < RB; r++)
            for (int g = 0; g < NG; g++) is[r][g] = _mm512_set1_epi32(corr * qa[(size_t) r * nb + b].negsum);
        for (int k = 0; k < chunks; k++) {
            const int64_t off = ((int64_t) b * chunks + k) * slots * 4;
            if (type == KV_Q8_0) {
                __m512i w[CHUNK];
                for (int g = 0; g < NG; g++) w[g] = _mm512_loadu_si512(kq[g] + off);
                for (int r = 0; r < RB; r++) {
                    int32_t x;
                    memcpy(&x, qa[(size_t) r * nb + b].qs + 4 * k, 4);
                    __m512i a = _mm512_set1_epi32(x);
                    for (int g = 0; g < NG; g++) is[r][g] = _mm512_dpbusd_epi32(is[r][g], w[g], a);
                }
            } else {
                __m512i lo[CHUNK], hi[CHUNK];
                for (int g = 0; g < NG; g++) {
                    __m512i raw = _mm512_loadu_si512(kq[g] + off);
                    lo[g] = _mm512_and_si512(raw, m4);
                    hi[g] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
                    if (type == KV_IQ4_NL) {
                        lo[g] = _mm512_shuffle_epi8(tbl, lo[g]);
                        hi[g] = _mm512_shuffle_epi8(tbl, hi[g]);
                    }
                }
                for (int r = 0; r < RB; r++) {
                    int32_t x0, x1;
                    memcpy(&x0, qa[(size_t) r * nb + b].qs + 4 * k, 4);
                    memcpy(&x1, qa[(size_t) r * nb + b].qs + 16 + 4 * k, 4);
                    __m512i a0 = _mm512_set1_epi32(x0), a1 = _mm512_set1_epi32(x1);
                    for (int g = 0; g < NG; g++) {
                        is[r][g] = _mm512_dpbusd_epi32(is[r][g], lo[g], a0);
                        is[r][g] = _mm512_dpbusd_epi32(is[r][g], hi[g], a1);
                    }
                }
            }
        }
        __m512 dk[CHUNK];
        for (int g = 0; g < NG; g++) dk[g] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *) (ks[g] + (int64_t) b * slots * 2)));
        for (int r = 0; r < RB; r++) {
            __m512 dq = _mm512_set1_ps(qa[(size_t) r * nb + b].d);
            for (int g = 0; g < NG; g++) f[r][g] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is[r][g]), _mm512_mul_ps(dk[g], dq), f[r][g]);
        }
    }
    for (int r = 0; r < RB; r++)
        for (int g = 0; g < NG; g++) _mm512_storeu_ps(s + r * CPOS + LANES * g, f[r][g]);
}

#define QK_I8_CASES(type, RB) \
    switch (ng) { \
        case 4: qk_i8(type, qa, nb, ks, kq, slots, RB, 4, s); break; \
        case 3: qk_i8(type, qa, nb, ks, kq, slots, RB, 3, s); break; \
        case 2: qk_i8(type, qa, nb, ks, kq, slots, RB, 2, s); break; \
        default: qk_i8(type, qa, nb, ks, kq, slots, RB, 1, s); break; \
    }

#define QK_I8_ROWS(type) \
    switch (rb) { \
        case 4: QK_I8_CASES(type, 4) break; case 3: QK_I8_CASES(type, 3) break; \
        case 2: QK_I8_CASES(type, 2) break; default: QK_I8_CASES(type, 1) break; \
    }

static void qk_i8_rows_avx512(int type, const att_q8 *qa, int nb, const uint8_t *const *ks, const uint8_t *const *kq, int slots, int rows, int ng, float *s) {
    const int rbs = row_block(rows, RB_I8);
    for (int r0 = 0; r0 < rows; r0 += rbs, qa += (size_t) rbs * nb, s += rbs * CPOS) {
        int rb = rows - r0 < rbs ? rows - r0 : rbs;
        switch (type) {
            case KV_Q8_0: QK_I8_ROWS(KV_Q8_0) break;
            case KV_Q4_0: QK_I8_ROWS(KV_Q4_0) break;
            default: QK_I8_ROWS(KV_IQ4_NL) break;
        }
    }
}

/* ---- values: acc[r] = alpha_r acc[r] + sum over positions of p[r][c] v_c ----------------- */

/* 16 values of V row `row` from dimension i (a multiple of 16), as floats. */
static inline __attribute__((always_inline)) __m512 vload(const int type, const uint8_t *row, int i, __mmask16 tail) {
    switch (type) {
        case KV_F32: return _mm512_maskz_loadu_ps(tail, (const float *) row + i);
        case KV_F16: return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(tail, (const uint16_t *) row + i));
        case KV_Q8_0: {
            const uint8_t *blk = row + (i / 32) * 34;
            uint16_t h;
            memcpy(&h, blk, 2);
            __m512 x = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *) (blk + 2 + (i & 16)))));
            return _mm512_mul_ps(x, _mm512_set1_ps(_cvtsh_ss(h)));
        }
        default: { /* q4_0, iq4_nl: 16 quant bytes, low nibbles values 0..15, high nibbles 16..31 */
            const uint8_t *blk = row + (i / 32) * 18;
            uint16_t h;
            memcpy(&h, blk, 2);
            __m128i raw = _mm_loadu_si128((const __m128i *) (blk + 2));
            __m128i nib = _mm_and_si128(i & 16 ? _mm_srli_epi16(raw, 4) : raw, _mm_set1_epi8(0x0F));
            __m128i val = type == KV_Q4_0 ? _mm_sub_epi8(nib, _mm_set1_epi8(8)) : _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *) IQ4NL), nib);
            return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(val)), _mm512_set1_ps(_cvtsh_ss(h)));
        }
    }
}

/* Rows [0, RB) x dimensions [i0, i0 + 16 ND) of acc, over the chunk's positions; p and acc rows as in the scratch. */
static inline __attribute__((always_inline))
void pv_block(const int type, const float *p, float *acc, int dim, const float *alpha, const group_t *grp, int ng, int64_t rowBytes,
              int maxPos, int i0, const int RB, const int ND, __mmask16 tail) {
    __m512 a[RB_FP][4];
    for (int r = 0; r < RB; r++) {
        __m512 al = _mm512_set1_ps(alpha[r]);
        for (int v = 0; v < ND; v++) {
            __mmask16 m = v == ND - 1 ? tail : 0xFFFF;
            a[r][v] = _mm512_mul_ps(al, _mm512_maskz_loadu_ps(m, acc + (size_t) r * dim + i0 + LANES * v));
        }
    }
    for (int g = 0; g < ng; g++) {
        int n = grp[g].n, lim = maxPos - grp[g].pos0 + 1;
        if (lim < n) n = lim;
        for (int c = 0; c < n; c++) {
            const uint8_t *row = grp[g].v + c * rowBytes;
            __m512 x[4];
            for (int v = 0; v < ND; v++) x[v] = vload(type, row, i0 + LANES * v, v == ND - 1 ? tail : 0xFFFF);
            for (int r = 0; r < RB; r++) {
                __m512 b = _mm512_set1_ps(p[r * CPOS + LANES * g + c]);
                for (int v = 0; v < ND; v++) a[r][v] = _mm512_fmadd_ps(b, x[v], a[r][v]);
            }
        }
    }
    for (int r = 0; r < RB; r++)
        for (int v = 0; v < ND; v++) _mm512_mask_storeu_ps(acc + (size_t) r * dim + i0 + LANES * v, v == ND - 1 ? tail : 0xFFFF, a[r][v]);
}

#define PV_ND(type, RB) \
    switch (nd) { \
        case 4: pv_block(type, p, acc, dim, alpha, grp, ng, rowBytes, maxPos, i0, RB, 4, tail); break; \
        case 3: pv_block(type, p, acc, dim, alpha, grp, ng, rowBytes, maxPos, i0, RB, 3, tail); break; \
        case 2: pv_block(type, p, acc, dim, alpha, grp, ng, rowBytes, maxPos, i0, RB, 2, tail); break; \
        default: pv_block(type, p, acc, dim, alpha, grp, ng, rowBytes, maxPos, i0, RB, 1, tail); break; \
    }

#define PV_RB(type) \
    switch (rb) { \
        case 6: PV_ND(type, 6) break; case 5: PV_ND(type, 5) break; case 4: PV_ND(type, 4) break; \
        case 3: PV_ND(type, 3) break; case 2: PV_ND(type, 2) break; default: PV_ND(type, 1) break; \
    }

static void pv_rows_avx512(int type, const float *p, float *acc, int dim, const float *alpha, const group_t *grp, int ng, int64_t rowBytes, int maxPos, int rows) {
    const int rbs = row_block(rows, RB_FP);
    for (int r0 = 0; r0 < rows; r0 += rbs) {
        int rb = rows - r0 < rbs ? rows - r0 : rbs;
        for (int i0 = 0; i0 < dim; i0 += 4 * LANES) {
            int left = dim - i0, nd = left >= 4 * LANES ? 4 : (left + LANES - 1) / LANES;
            int last = left - (nd - 1) * LANES;
            __mmask16 tail = last >= LANES ? 0xFFFF : (__mmask16) ((1u << last) - 1);
            switch (type) {
                case KV_F32: PV_RB(KV_F32) break;
                case KV_F16: PV_RB(KV_F16) break;
                case KV_Q8_0: PV_RB(KV_Q8_0) break;
                case KV_Q4_0: PV_RB(KV_Q4_0) break;
                default: PV_RB(KV_IQ4_NL) break;
            }
        }
        p += rbs * CPOS;
        acc += (size_t) rbs * dim;
        alpha += rbs;
    }
}

/* ---- a chunk's K and V as floats, for tiles of many rows ----------------------------------- */

/* K of the chunk's groups as f32 [g][dim][16] (float K types only). */
static void k_to_f32_avx512(int f16, const group_t *grp, int ng, int dim, int slots, float *kf) {
    for (int g = 0; g < ng; g++) {
        float *o = kf + (size_t) g * dim * LANES;
        const uint8_t *k = grp[g].k;
        int s0 = grp[g].slot0;
        for (int i = 0; i < dim; i++) {
            __m512 x = f16 ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *) (k + 2 * ((size_t) i * slots + s0))))
                           : _mm512_loadu_ps((const float *) k + (size_t) i * slots + s0);
            _mm512_storeu_ps(o + (size_t) i * LANES, x);
        }
    }
}

/* V rows of the chunk's groups (up to maxPos) as f32 rows; the groups then point into vf. */
static void v_to_f32_avx512(int type, group_t *grp, int ng, int dim, int64_t rowBytes, int maxPos, float *vf) {
    __mmask16 tail = dim % LANES ? (__mmask16) ((1u << (dim % LANES)) - 1) : 0xFFFF;
    for (int g = 0; g < ng; g++) {
        int n = grp[g].n, lim = maxPos - grp[g].pos0 + 1;
        if (lim < n) n = lim;
        float *o = vf + (size_t) g * LANES * dim;
        for (int c = 0; c < n; c++) {
            const uint8_t *row = grp[g].v + c * rowBytes;
            for (int i = 0; i < dim; i += LANES) {
                __mmask16 m = i + LANES <= dim ? 0xFFFF : tail;
                _mm512_mask_storeu_ps(o + (size_t) c * dim + i, m, vload(type, row, i, m));
            }
        }
        grp[g].v = (const uint8_t *) o;
    }
}

/* ---- the online softmax's vector steps -------------------------------------------------- */

/* A row's scores of the chunk, capped, -inf outside the groups' positions and (when masked) outside
 * [lo, hi], stored back; returns their maximum. */
static inline __attribute__((always_inline))
float mask_max_avx512(float *sr, const group_t *grp, int ng, int masked, int lo, int hi, float cap) {
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (int g = 0; g < ng; g++) {
        __m512 x = _mm512_loadu_ps(sr + LANES * g);
        if (cap > 0) x = softcap16(x, cap);
        __mmask16 valid = (__mmask16) ((1u << grp[g].n) - 1);
        if (masked) {
            __m512i p = _mm512_add_epi32(iota, _mm512_set1_epi32(grp[g].pos0));
            valid &= _mm512_cmp_epi32_mask(p, _mm512_set1_epi32(lo), _MM_CMPINT_NLT);
            valid &= _mm512_cmp_epi32_mask(p, _mm512_set1_epi32(hi), _MM_CMPINT_LE);
        }
        x = _mm512_mask_blend_ps(valid, _mm512_set1_ps(-INFINITY), x);
        _mm512_storeu_ps(sr + LANES * g, x);
        mx = _mm512_max_ps(mx, x);
    }
    return _mm512_reduce_max_ps(mx);
}

/* The rows' new maxima m = max(m, bmax) and rescale factors alpha = e^(old m - m), 16 rows at a time. */
static inline __attribute__((always_inline)) void rescale_avx512(float *m, const float *bmax, float *alpha, int R) {
    for (int r = 0; r < R; r += LANES) {
        __mmask16 k = R - r >= LANES ? 0xFFFF : (__mmask16) ((1u << (R - r)) - 1);
        __m512 mo = _mm512_maskz_loadu_ps(k, m + r), mn = _mm512_max_ps(mo, _mm512_maskz_loadu_ps(k, bmax + r));
        /* nothing visible yet (max still -inf): factor 1 */
        __mmask16 none = _mm512_cmp_ps_mask(mn, _mm512_set1_ps(-INFINITY), _CMP_EQ_OQ);
        __m512 a = _mm512_mask_blend_ps(none, exp16(_mm512_sub_ps(mo, mn)), _mm512_set1_ps(1.0f));
        _mm512_mask_storeu_ps(alpha + r, k, a);
        _mm512_mask_storeu_ps(m + r, k, mn);
    }
}

/* A row's probabilities e^(s - m), stored back; returns their sum. */
static inline __attribute__((always_inline)) float exp_sum_avx512(float *sr, int ng, float m) {
    __m512 sum = _mm512_setzero_ps(), mv = _mm512_set1_ps(m);
    for (int g = 0; g < ng; g++) {
        __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(sr + LANES * g), mv));
        sum = _mm512_add_ps(sum, e);
        _mm512_storeu_ps(sr + LANES * g, e);
    }
    return _mm512_reduce_add_ps(sum);
}

#define AT(name) name##_avx512
#define AT_LANES LANES
#define AT_GROUPS CHUNK
#include "attend.inc"
#undef AT
#undef AT_LANES
#undef AT_GROUPS

#pragma GCC pop_options

/* ---- the AVX2 (+FMA, F16C) kernel (level 1) -----------------------------------------------
 * The same algorithm with 8-lane vectors: groups of 8 positions (half a 16-slot group, so the
 * layouts are unchanged), 8 groups a chunk (64 positions: the same scratch regions). 16 vector
 * registers instead of 32, so register blocks are at most 4 rows x 2 vectors. No vpdpbusd: the
 * integer dot products are vpmaddubsw + vpmaddwd, whose int16 pair sums would saturate on the
 * +128-biased bytes (q8_0's, IQ4_NL's), so signed K values go in as |k| with the query carrying
 * k's sign (|k| <= 128, |q| <= 127: the pair sums stay below 2^15) and need no bias correction. */
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

#define L2 8            /* positions per group: one 256-bit float vector */
#define CH2 (CPOS / L2) /* groups per chunk */
#define RB2 4           /* query rows per register block */
#define NV2 2           /* groups (scores) or V vectors (values) per register block */

/* exp16's polynomial; AVX2 has no vscalefps and 2^n down to 2^-150 is no float exponent, so 2^n
 * is applied as two factors whose product underflows to 0 under flush-to-zero. */
static inline __m256 exp8(__m256 x) {
    __m256 t = _mm256_mul_ps(_mm256_max_ps(x, _mm256_set1_ps(-104.0f)), _mm256_set1_ps(1.44269504088896341f));
    __m256 n = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 f = _mm256_sub_ps(t, n);
    __m256 p = _mm256_set1_ps(1.535336188319500E-4f);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.339887440266574E-3f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.618437357674640E-3f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.550332471162809E-2f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.402264791363012E-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(6.931472028550421E-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
    __m256i ni = _mm256_cvtps_epi32(n), n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

static inline __m256 softcap8(__m256 x, float cap) {
    __m256 e = exp8(_mm256_mul_ps(x, _mm256_set1_ps(2.0f / cap)));
    __m256 t = _mm256_sub_ps(_mm256_set1_ps(1.0f), _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
    return _mm256_mul_ps(t, _mm256_set1_ps(cap));
}

static inline float hmax8(__m256 x) {
    __m128 a = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    a = _mm_max_ps(a, _mm_movehl_ps(a, a));
    return _mm_cvtss_f32(_mm_max_ss(a, _mm_shuffle_ps(a, a, 1)));
}

static inline float hsum8(__m256 x) {
    __m128 a = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    a = _mm_add_ps(a, _mm_movehl_ps(a, a));
    return _mm_cvtss_f32(_mm_add_ss(a, _mm_shuffle_ps(a, a, 1)));
}

/* all-ones in lanes < n */
static inline __m256i mask8(int n) { return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); }

/* qk_fp on 8-lane groups: s[r][8g + j] = q_r . k_j */
static inline __attribute__((always_inline))
void qk_fp2(const int f16, const float *q, int dim, const uint8_t *const *kp, int stride, const int RB, const int NG, float *s) {
    __m256 acc[RB2][NV2];
    for (int r = 0; r < RB; r++)
        for (int g = 0; g < NG; g++) acc[r][g] = _mm256_setzero_ps();
    for (int i = 0; i < dim; i++) {
        __m256 k[NV2];
        for (int g = 0; g < NG; g++) {
            k[g] = f16 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (kp[g] + 2 * (size_t) i * stride)))
                       : _mm256_loadu_ps((const float *) kp[g] + (size_t) i * stride);
        }
        for (int r = 0; r < RB; r++) {
            __m256 b = _mm256_set1_ps(q[(size_t) r * dim + i]);
            for (int g = 0; g < NG; g++) acc[r][g] = _mm256_fmadd_ps(b, k[g], acc[r][g]);
        }
    }
    for (int r = 0; r < RB; r++)
        for (int g = 0; g < NG; g++) _mm256_storeu_ps(s + r * CPOS + L2 * g, acc[r][g]);
}

#define QK_FP2_CASES(f16, RB) \
    if (n2 == 2) qk_fp2(f16, q, dim, kp + g0, stride, RB, 2, s + L2 * g0); else qk_fp2(f16, q, dim, kp + g0, stride, RB, 1, s + L2 * g0);

static void qk_fp_rows_avx2(int f16, const float *q, int dim, const uint8_t *const *kp, int stride, int rows, int ng, float *s) {
    const int rbs = row_block(rows, RB2);
    for (int r0 = 0; r0 < rows; r0 += rbs, q += (size_t) rbs * dim, s += rbs * CPOS) {
        int rb = rows - r0 < rbs ? rows - r0 : rbs;
        for (int g0 = 0; g0 < ng; g0 += NV2) {
            int n2 = ng - g0 < NV2 ? ng - g0 : NV2;
            if (f16) {
                switch (rb) {
                    case 4: QK_FP2_CASES(1, 4) break; case 3: QK_FP2_CASES(1, 3) break;
                    case 2: QK_FP2_CASES(1, 2) break; default: QK_FP2_CASES(1, 1) break;
                }
            } else {
                switch (rb) {
                    case 4: QK_FP2_CASES(0, 4) break; case 3: QK_FP2_CASES(0, 3) break;
                    case 2: QK_FP2_CASES(0, 2) break; default: QK_FP2_CASES(0, 1) break;
                }
            }
        }
    }
}

/* qk_i8 on 8-lane groups (see the section comment for the signed bytes). */
static inline __attribute__((always_inline))
void qk_i8_2(const int type, const att_q8 *qa, int nb, const uint8_t *const *ks, const uint8_t *const *kq, int slots, const int RB, const int NG, float *s) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1), bias = _mm256_set1_epi8((char) 0x80);
    const __m256i tbl = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *) IQ4NL));
    const int chunks = type == KV_Q8_0 ? 8 : 4;
    __m256 f[RB2][NV2];
    for (int r = 0; r < RB; r++)
        for (int g = 0; g < NG; g++) f[r][g] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++) {
        __m256i is[RB2][NV2];
        for (int r = 0; r < RB; r++) /* q4_0's nibbles are value + 8: take 8 x the query's sum back */
            for (int g = 0; g < NG; g++) is[r][g] = type == KV_Q4_0 ? _mm256_set1_epi32(qa[(size_t) r * nb + b].negsum) : _mm256_setzero_si256();
        for (int k = 0; k < chunks; k++) {
            const int64_t off = ((int64_t) b * chunks + k) * slots * 4;
            if (type == KV_Q8_0) {
                __m256i w[NV2], wa[NV2];
                for (int g = 0; g < NG; g++) {
                    w[g] = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *) (kq[g] + off)), bias);
                    wa[g] = _mm256_abs_epi8(w[g]);
                }
                for (int r = 0; r < RB; r++) {
                    int32_t x;
                    memcpy(&x, qa[(size_t) r * nb + b].qs + 4 * k, 4);
                    __m256i a = _mm256_set1_epi32(x);
                    for (int g = 0; g < NG; g++)
                        is[r][g] = _mm256_add_epi32(is[r][g], _mm256_madd_epi16(_mm256_maddubs_epi16(wa[g], _mm256_sign_epi8(a, w[g])), ones));
                }
            } else {
                __m256i lo[NV2], hi[NV2];
                for (int g = 0; g < NG; g++) {
                    __m256i raw = _mm256_loadu_si256((const __m256i *) (kq[g] + off));
                    lo[g] = _mm256_and_si256(raw, m4);
                    hi[g] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
                    if (type == KV_IQ4_NL) {
                        lo[g] = _mm256_shuffle_epi8(tbl, lo[g]);
                        hi[g] = _mm256_shuffle_epi8(tbl, hi[g]);
                    }
                }
                for (int r = 0; r < RB; r++) {
                    int32_t x0, x1;
                    memcpy(&x0, qa[(size_t) r * nb + b].qs + 4 * k, 4);
                    memcpy(&x1, qa[(size_t) r * nb + b].qs + 16 + 4 * k, 4);
                    __m256i a0 = _mm256_set1_epi32(x0), a1 = _mm256_set1_epi32(x1);
                    for (int g = 0; g < NG; g++) {
                        if (type == KV_IQ4_NL) { /* each pair sum up to 2 x 127 x 127: widened separately */
                            is[r][g] = _mm256_add_epi32(is[r][g], _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(lo[g]), _mm256_sign_epi8(a0, lo[g])), ones));
                            is[r][g] = _mm256_add_epi32(is[r][g], _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(hi[g]), _mm256_sign_epi8(a1, hi[g])), ones));
                        } else { /* nibbles <= 15: two pair sums stay below 2^15 */
                            __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo[g], a0), _mm256_maddubs_epi16(hi[g], a1));
                            is[r][g] = _mm256_add_epi32(is[r][g], _mm256_madd_epi16(p, ones));
                        }
                    }
                }
            }
        }
        __m256 dk[NV2];
        for (int g = 0; g < NG; g++) dk[g] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (ks[g] + (int64_t) b * slots * 2)));
        for (int r = 0; r < RB; r++) {
            __m256 dq = _mm256_set1_ps(qa[(size_t) r * nb + b].d);
            for (int g = 0; g < NG; g++) f[r][g] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is[r][g]), _mm256_mul_ps(dk[g], dq), f[r][g]);
        }
    }
    for (int r = 0; r < RB; r++)
        for (int g = 0; g < NG; g++) _mm256_storeu_ps(s + r * CPOS + L2 * g, f[r][g]);
}

#define QK_I82_CASES(type, RB) \
    if (n2 == 2) qk_i8_2(type, qa, nb, ks + g0, kq + g0, slots, RB, 2, s + L2 * g0); else qk_i8_2(type, qa, nb, ks + g0, kq + g0, slots, RB, 1, s + L2 * g0);

#define QK_I82_ROWS(type) \
    switch (rb) { case 2: QK_I82_CASES(type, 2) break; default: QK_I82_CASES(type, 1) break; }

static void qk_i8_rows_avx2(int type, const att_q8 *qa, int nb, const uint8_t *const *ks, const uint8_t *const *kq, int slots, int rows, int ng, float *s) {
    const int rbs = row_block(rows, 2); /* 2 rows: the integer and float accumulators share the 16 registers */
    for (int r0 = 0; r0 < rows; r0 += rbs, qa += (size_t) rbs * nb, s += rbs * CPOS) {
        int rb = rows - r0 < rbs ? rows - r0 : rbs;
        for (int g0 = 0; g0 < ng; g0 += NV2) {
            int n2 = ng - g0 < NV2 ? ng - g0 : NV2;
            switch (type) {
                case KV_Q8_0: QK_I82_ROWS(KV_Q8_0) break;
                case KV_Q4_0: QK_I82_ROWS(KV_Q4_0) break;
                default: QK_I82_ROWS(KV_IQ4_NL) break;
            }
        }
    }
}

/* 8 values of V row `row` from dimension i (a multiple of 8), as floats; `n` < 8 only in a float row's tail. */
static inline __attribute__((always_inline)) __m256 vload2(const int type, const uint8_t *row, int i, int n) {
    switch (type) {
        case KV_F32: return n < L2 ? _mm256_maskload_ps((const float *) row + i, mask8(n)) : _mm256_loadu_ps((const float *) row + i);
        case KV_F16: {
            if (n >= L2) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) ((const uint16_t *) row + i)));
            uint16_t h[L2] = {0};
            memcpy(h, (const uint16_t *) row + i, 2 * (size_t) n);
            return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) h));
        }
        case KV_Q8_0: {
            const uint8_t *blk = row + (i / 32) * 34;
            uint16_t h;
            memcpy(&h, blk, 2);
            __m256 x = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *) (blk + 2 + (i & 31)))));
            return _mm256_mul_ps(x, _mm256_set1_ps(_cvtsh_ss(h)));
        }
        default: { /* q4_0, iq4_nl: values 0..15 in the low nibbles of the 16 quant bytes, 16..31 in the high */
            const uint8_t *blk = row + (i / 32) * 18;
            uint16_t h;
            memcpy(&h, blk, 2);
            __m128i raw = _mm_loadl_epi64((const __m128i *) (blk + 2 + (i & 15)));
            __m128i nib = _mm_and_si128(i & 16 ? _mm_srli_epi16(raw, 4) : raw, _mm_set1_epi8(0x0F));
            __m128i val = type == KV_Q4_0 ? _mm_sub_epi8(nib, _mm_set1_epi8(8)) : _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *) IQ4NL), nib);
            return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(val)), _mm256_set1_ps(_cvtsh_ss(h)));
        }
    }
}

/* pv_block on 8-lane vectors: rows [0, RB) x dimensions [i0, i0 + 8 ND), the last vector `last` lanes. */
static inline __attribute__((always_inline))
void pv_block2(const int type, const float *p, float *acc, int dim, const float *alpha, const group_t *grp, int ng, int64_t rowBytes,
               int maxPos, int i0, const int RB, const int ND, int last) {
    const __m256i tm = mask8(last);
    __m256 a[RB2][NV2];
    for (int r = 0; r < RB; r++) {
        __m256 al = _mm256_set1_ps(alpha[r]);
        for (int v = 0; v < ND; v++) {
            const float *src = acc + (size_t) r * dim + i0 + L2 * v;
            a[r][v] = _mm256_mul_ps(al, v == ND - 1 && last < L2 ? _mm256_maskload_ps(src, tm) : _mm256_loadu_ps(src));
        }
    }
    for (int g = 0; g < ng; g++) {
        int n = grp[g].n, lim = maxPos - grp[g].pos0 + 1;
        if (lim < n) n = lim;
        for (int c = 0; c < n; c++) {
            const uint8_t *row = grp[g].v + c * rowBytes;
            __m256 x[NV2];
            for (int v = 0; v < ND; v++) x[v] = vload2(type, row, i0 + L2 * v, v == ND - 1 ? last : L2);
            for (int r = 0; r < RB; r++) {
                __m256 b = _mm256_set1_ps(p[r * CPOS + L2 * g + c]);
                for (int v = 0; v < ND; v++) a[r][v] = _mm256_fmadd_ps(b, x[v], a[r][v]);
            }
        }
    }
    for (int r = 0; r < RB; r++)
        for (int v = 0; v < ND; v++) {
            float *dst = acc + (size_t) r * dim + i0 + L2 * v;
            if (v == ND - 1 && last < L2) _mm256_maskstore_ps(dst, tm, a[r][v]);
            else _mm256_storeu_ps(dst, a[r][v]);
        }
}

#define PV2_ND(type, RB) \
    if (nd == 2) pv_block2(type, p, acc, dim, alpha, grp, ng, rowBytes, maxPos, i0, RB, 2, last); \
    else pv_block2(type, p, acc, dim, alpha, grp, ng, rowBytes, maxPos, i0, RB, 1, last);

#define PV2_RB(type) \
    switch (rb) { \
        case 4: PV2_ND(type, 4) break; case 3: PV2_ND(type, 3) break; \
        case 2: PV2_ND(type, 2) break; default: PV2_ND(type, 1) break; \
    }

static void pv_rows_avx2(int type, const float *p, float *acc, int dim, const float *alpha, const group_t *grp, int ng, int64_t rowBytes, int maxPos, int rows) {
    const int rbs = row_block(rows, RB2);
    for (int r0 = 0; r0 < rows; r0 += rbs) {
        int rb = rows - r0 < rbs ? rows - r0 : rbs;
        for (int i0 = 0; i0 < dim; i0 += NV2 * L2) {
            int left = dim - i0, nd = left > L2 ? 2 : 1;
            int last = left - (nd - 1) * L2;
            if (last > L2) last = L2;
            switch (type) {
                case KV_F32: PV2_RB(KV_F32) break;
                case KV_F16: PV2_RB(KV_F16) break;
                case KV_Q8_0: PV2_RB(KV_Q8_0) break;
                case KV_Q4_0: PV2_RB(KV_Q4_0) break;
                default: PV2_RB(KV_IQ4_NL) break;
            }
        }
        p += rbs * CPOS;
        acc += (size_t) rbs * dim;
        alpha += rbs;
    }
}

/* K of the chunk's groups as f32 [g][dim][8] (float K types only). */
static void k_to_f32_avx2(int f16, const group_t *grp, int ng, int dim, int slots, float *kf) {
    for (int g = 0; g < ng; g++) {
        float *o = kf + (size_t) g * dim * L2;
        const uint8_t *k = grp[g].k;
        int s0 = grp[g].slot0;
        for (int i = 0; i < dim; i++) {
            __m256 x = f16 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (k + 2 * ((size_t) i * slots + s0))))
                           : _mm256_loadu_ps((const float *) k + (size_t) i * slots + s0);
            _mm256_storeu_ps(o + (size_t) i * L2, x);
        }
    }
}

/* V rows of the chunk's groups (up to maxPos) as f32 rows; the groups then point into vf. */
static void v_to_f32_avx2(int type, group_t *grp, int ng, int dim, int64_t rowBytes, int maxPos, float *vf) {
    const __m256i tm = mask8(dim % L2);
    for (int g = 0; g < ng; g++) {
        int n = grp[g].n, lim = maxPos - grp[g].pos0 + 1;
        if (lim < n) n = lim;
        float *o = vf + (size_t) g * L2 * dim;
        for (int c = 0; c < n; c++) {
            const uint8_t *row = grp[g].v + c * rowBytes;
            for (int i = 0; i < dim; i += L2) {
                if (i + L2 <= dim) _mm256_storeu_ps(o + (size_t) c * dim + i, vload2(type, row, i, L2));
                else _mm256_maskstore_ps(o + (size_t) c * dim + i, tm, vload2(type, row, i, dim - i));
            }
        }
        grp[g].v = (const uint8_t *) o;
    }
}

/* attend on the AVX2 kernels (same contract). */
/* mask_max on 8-lane groups */
static inline __attribute__((always_inline))
float mask_max_avx2(float *sr, const group_t *grp, int ng, int masked, int lo, int hi, float cap) {
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256 mx = _mm256_set1_ps(-INFINITY);
    for (int g = 0; g < ng; g++) {
        __m256 x = _mm256_loadu_ps(sr + L2 * g);
        if (cap > 0) x = softcap8(x, cap);
        __m256i valid = mask8(grp[g].n);
        if (masked) {
            __m256i p = _mm256_add_epi32(iota, _mm256_set1_epi32(grp[g].pos0));
            valid = _mm256_and_si256(valid, _mm256_cmpgt_epi32(p, _mm256_set1_epi32(lo - 1)));
            valid = _mm256_andnot_si256(_mm256_cmpgt_epi32(p, _mm256_set1_epi32(hi)), valid);
        }
        x = _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), x, _mm256_castsi256_ps(valid));
        _mm256_storeu_ps(sr + L2 * g, x);
        mx = _mm256_max_ps(mx, x);
    }
    return hmax8(mx);
}

/* rescale, 8 rows at a time */
static inline __attribute__((always_inline)) void rescale_avx2(float *m, const float *bmax, float *alpha, int R) {
    for (int r = 0; r < R; r += L2) {
        const __m256i k8 = mask8(R - r);
        __m256 mo = _mm256_maskload_ps(m + r, k8), mn = _mm256_max_ps(mo, _mm256_maskload_ps(bmax + r, k8));
        __m256 none = _mm256_cmp_ps(mn, _mm256_set1_ps(-INFINITY), _CMP_EQ_OQ);
        __m256 a = _mm256_blendv_ps(exp8(_mm256_sub_ps(mo, mn)), _mm256_set1_ps(1.0f), none);
        _mm256_maskstore_ps(alpha + r, k8, a);
        _mm256_maskstore_ps(m + r, k8, mn);
    }
}

static inline __attribute__((always_inline)) float exp_sum_avx2(float *sr, int ng, float m) {
    __m256 sum = _mm256_setzero_ps(), mv = _mm256_set1_ps(m);
    for (int g = 0; g < ng; g++) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(sr + L2 * g), mv));
        sum = _mm256_add_ps(sum, e);
        _mm256_storeu_ps(sr + L2 * g, e);
    }
    return hsum8(sum);
}

#define AT(name) name##_avx2
#define AT_LANES L2
#define AT_GROUPS CH2
#include "attend.inc"
#undef AT
#undef AT_LANES
#undef AT_GROUPS

#pragma GCC pop_options

/** The exported kernel: attend's contract; -2 when this CPU has no kernel (Java computes). */
int sl_attention(const int32_t *cfg, const float *fcfg, const float *q, float *out, float *partial,
                 const uint8_t *k, const uint8_t *v, const int32_t *table, const int32_t *rows, const int32_t *pos,
                 const float *sinks, uint8_t *scratch) {
    const int lvl = sl_level();
    if (lvl < 1) return -2;
    /* flush-to-zero and denormals-are-zero while the kernel runs: probabilities far below the
     * maximum underflow to 0 instead of taking microcode assists; the caller's state comes back */
    const unsigned csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040);
    int rc = lvl >= 2 ? attend_avx512(cfg, fcfg, q, out, partial, k, v, table, rows, pos, sinks, scratch)
                      : attend_avx2(cfg, fcfg, q, out, partial, k, v, table, rows, pos, sinks, scratch);
    _mm_setcsr(csr);
    return rc;
}

