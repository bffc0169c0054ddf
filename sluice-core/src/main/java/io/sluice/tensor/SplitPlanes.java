package io.sluice.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.IntUnaryOperator;

import static io.sluice.tensor.FormatVectors.F;
import static io.sluice.tensor.FormatVectors.L;
import static io.sluice.tensor.FormatVectors.f16;
import static io.sluice.tensor.KQuants.QK_K;
import static io.sluice.tensor.KQuants.u8;

/**
 * The super-block Q3_K and Q6_K share: 256 values in 16 sub-blocks of 16, each quant's low bits in
 * one byte plane and its high bits in another, a signed scale per sub-block and an fp16 scale d:
 * value = d * scale[s] * (q - bias), bias = 2^(bits - 1). The formats differ only in where planes,
 * scales and d sit and in the field widths, so each declares those here and both share one
 * dequantize and one dot. The sub-block offsets and shifts are tables filled once from the format's
 * formulas, so the kernels stay free of calls back into the format.
 */
final class SplitPlanes {
    final String name;
    final int blockBytes;
    /** Offset of d in a block. */
    final int dAt;
    /** Offset of the scales; Q3_K packs 6-bit ones ({@link Q3_KFormat#scale}), Q6_K stores a signed byte each. */
    final int scalesAt;
    final boolean packedScales;
    final int loBits, loMask, hiMask, bias;
    /** Per sub-block: offsets of its 16 bytes in the low and high planes, and the shift of its field in them. */
    final int[] loAt = new int[16], loShift = new int[16], hiAt = new int[16], hiShift = new int[16];

    SplitPlanes(String name, int blockBytes, int dAt, int scalesAt, boolean packedScales,
                int loBits, IntUnaryOperator loAt, IntUnaryOperator loShift,
                int hiBits, IntUnaryOperator hiAt, IntUnaryOperator hiShift) {
        this.name = name;
        this.blockBytes = blockBytes;
        this.dAt = dAt;
        this.scalesAt = scalesAt;
        this.packedScales = packedScales;
        this.loBits = loBits;
        this.loMask = (1 << loBits) - 1;
        this.hiMask = (1 << hiBits) - 1;
        this.bias = 1 << (loBits + hiBits - 1);
        for (int s = 0; s < 16; s++) {
            this.loAt[s] = loAt.applyAsInt(s);
            this.loShift[s] = loShift.applyAsInt(s);
            this.hiAt[s] = hiAt.applyAsInt(s);
            this.hiShift[s] = hiShift.applyAsInt(s);
        }
    }

    /** Signed scale of sub-block s of the block at {@code off}. */
    int scale(MemorySegment src, long off, int s) {
        return packedScales ? Q3_KFormat.scale(src, off + scalesAt, s) : src.get(ValueLayout.JAVA_BYTE, off + scalesAt + s);
    }

    /** Stores quant q (0 .. 2^bits - 1, bias included) of value l of sub-block s into planes the caller zeroed. */
    void put(MemorySegment dst, long off, int s, int l, int q) {
        long lo = off + loAt[s] + l, hi = off + hiAt[s] + l;
        dst.set(ValueLayout.JAVA_BYTE, lo, (byte) (u8(dst, lo) | (q & loMask) << loShift[s]));
        dst.set(ValueLayout.JAVA_BYTE, hi, (byte) (u8(dst, hi) | (q >>> loBits) << hiShift[s]));
    }

    void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        FormatVectors.checkBlocks(n, QK_K, name);
        for (int b = 0; b < n / QK_K; b++) {
            long off = byteOffset + (long) b * blockBytes;
            float d = f16(src, off + dAt);
            for (int s = 0; s < 16; s++) {
                float dl = d * scale(src, off, s);
                long lo = off + loAt[s], hi = off + hiAt[s];
                int ls = loShift[s], hs = hiShift[s];
                int o = dstOffset + b * QK_K + 16 * s;
                for (int l = 0; l < 16; l++) {
                    int q = ((u8(src, lo + l) >>> ls) & loMask) | ((u8(src, hi + l) >>> hs) & hiMask) << loBits;
                    dst[o + l] = dl * (q - bias);
                }
            }
        }
    }

    float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        FormatVectors.checkBlocks(n, QK_K, name);
        int blocks = n / QK_K;
        if (!FormatVectors.ENABLED) return dotScalar(src, byteOffset, x, xOffset, blocks);
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            long off = byteOffset + (long) b * blockBytes;
            float d = f16(src, off + dAt);
            for (int s = 0; s < 16; s++) {
                long lo = off + loAt[s], hi = off + hiAt[s];
                int ls = loShift[s], hs = hiShift[s];
                int xo = xOffset + b * QK_K + 16 * s;
                FloatVector sq = FloatVector.zero(F);
                for (int t = 0; t < 16; t += L) {
                    IntVector low = FormatVectors.u8(src, lo + t).lanewise(VectorOperators.LSHR, ls).and(loMask);
                    IntVector high = FormatVectors.u8(src, hi + t).lanewise(VectorOperators.LSHR, hs).and(hiMask)
                            .lanewise(VectorOperators.LSHL, loBits);
                    sq = FormatVectors.toFloat(low.or(high).sub(bias)).fma(FormatVectors.x(x, xo + t), sq);
                }
                acc = sq.fma(FloatVector.broadcast(F, d * scale(src, off, s)), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /** The scalar fallback of {@link #dot}, over whole blocks. */
    float dotScalar(MemorySegment src, long byteOffset, float[] x, int xOffset, int blocks) {
        float sum = 0f;
        for (int b = 0; b < blocks; b++) {
            long off = byteOffset + (long) b * blockBytes;
            float d = f16(src, off + dAt);
            for (int s = 0; s < 16; s++) {
                long lo = off + loAt[s], hi = off + hiAt[s];
                int ls = loShift[s], hs = hiShift[s];
                int xo = xOffset + b * QK_K + 16 * s;
                float sq = 0f;
                for (int l = 0; l < 16; l++) {
                    int q = ((u8(src, lo + l) >>> ls) & loMask) | ((u8(src, hi + l) >>> hs) & hiMask) << loBits;
                    sq += (q - bias) * x[xo + l];
                }
                sum += d * scale(src, off, s) * sq;
            }
        }
        return sum;
    }
}
