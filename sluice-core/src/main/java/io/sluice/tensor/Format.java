package io.sluice.tensor;

import io.sluice.gguf.GGMLType;

import java.lang.foreign.MemorySegment;

/**
 * One tensor storage format (ggml's per-type traits), declared as data and code in one class:
 * its block layout (values and bytes per block; the class comment draws the bytes), how to
 * dequantize it, how to take a dot product with float activations directly on the mapped bytes,
 * how to quantize floats into it, and what its native kernel takes ({@link #nativeKernel}).
 * Offsets are in bytes into the segment; element counts {@code n} are multiples of the block
 * size and start on a block boundary.
 */
public interface Format {
    GGMLType type();

    /** Values per block (ggml's blck_size). */
    default int blockValues() {
        return type().blockSize;
    }

    /** Bytes per block (ggml's type_size). */
    default int blockBytes() {
        return type().typeSize;
    }

    /** The native kernel of this format, or null when only the Java kernels compute it. */
    default NativeKernel nativeKernel() {
        return null;
    }

    /** Dequantizes n values stored at {@code byteOffset} into dst[dstOffset..dstOffset+n). */
    void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n);

    /** Sum over i < n of value(i) * x[xOffset + i], for the n values stored at {@code byteOffset}. */
    float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n);

    /** Encodes src[srcOffset..srcOffset+n) into dst at {@code byteOffset} (type().byteSize(n) bytes). */
    void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long byteOffset);
}
