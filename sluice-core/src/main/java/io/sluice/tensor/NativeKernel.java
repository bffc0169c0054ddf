package io.sluice.tensor;

/**
 * What a format's native kernel (src/main/c) takes and reads, declared by the format itself so
 * that no switch elsewhere lists formats: the {@link Activation} it multiplies with, whether it
 * has a kernel that reads rows straight from the file ({@code rowKernel}) and whether it has a
 * 16-row interleaved layout that the fastest kernels read after a one-time repack
 * ({@code interleaved}). The C library's table must offer the same for the format's type id;
 * {@link NativeKernels} checks that on loading and uses the Java kernels where it does not.
 */
public record NativeKernel(Activation activation, boolean rowKernel, boolean interleaved) {
    public NativeKernel {
        if (!rowKernel && !interleaved) throw new IllegalArgumentException("a native kernel reads rows, the interleaved copy, or both");
    }
}
