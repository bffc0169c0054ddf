package io.sluice.gguf;

/**
 * A tensor's header entry. {@code dims} are in ggml order: dims[0] is the length of a row
 * (the fastest-varying axis). {@code offset} is relative to the start of the data section.
 */
public record TensorInfo(String name, GGMLType type, long[] dims, long offset) {

    public long elementCount() {
        long n = 1;
        for (long d : dims) n = Math.multiplyExact(n, d);
        return n;
    }

    public long byteSize() {
        return type.byteSize(elementCount());
    }

    /** Number of rows when viewed as a matrix of rows of length dims[0]. */
    public long rows() {
        return elementCount() / Math.max(1, dims[0]);
    }

    public String shape() {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < dims.length; i++) sb.append(i > 0 ? ", " : "").append(dims[i]);
        return sb.append(']').toString();
    }
}
