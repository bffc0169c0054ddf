package io.sluice.model;

import io.sluice.gguf.GGUFException;
import io.sluice.gguf.GGUFFile;
import io.sluice.gguf.TensorInfo;
import io.sluice.tensor.Formats;
import io.sluice.tensor.Matrix;

/**
 * Finds a model's tensors in its file and checks their shapes: matrices stay in the mapping
 * (fused tensors are split into row views, never copied), 1-D tensors (norms, biases, rope
 * factors) are decoded to floats. Every missing or misshapen tensor is one {@link GGUFException}
 * naming the file, the tensor and the shape expected.
 */
public final class Weights {
    private final GGUFFile file;

    public Weights(GGUFFile file) {
        this.file = file;
    }

    public boolean has(String name) {
        return file.tensor(name) != null;
    }

    /** "blk.L." + name: a tensor of layer L. */
    public static String layer(int l, String name) {
        return "blk." + l + "." + name;
    }

    public GGUFException error(String tensor, String problem) {
        return new GGUFException(file.path() + ": tensor '" + tensor + "' " + problem);
    }

    /** A matrix of {@code rows} rows of {@code cols} values (rows &lt; 0: any number of rows). */
    public Matrix matrix(String name, int cols, int rows) {
        TensorInfo t = file.requireTensor(name);
        if (t.dims().length > 2 || t.dims()[0] != cols || (rows >= 0 && t.rows() != rows)) {
            throw error(name, "has shape " + t.shape() + ", expected [" + cols + ", " + (rows >= 0 ? rows : "n") + "]");
        }
        try {
            return Matrix.of(file, t);
        } catch (IllegalArgumentException e) {
            throw new GGUFException(e.getMessage(), e);
        }
    }

    /** As {@link #matrix}, or null when the file has no such tensor. */
    public Matrix optionalMatrix(String name, int cols, int rows) {
        return has(name) ? matrix(name, cols, rows) : null;
    }

    /**
     * A fused matrix whose rows are several matrices stacked (Q | K | V, gate | up): one view per
     * part, {@code rows[i]} rows each, named for messages by {@code parts[i]}.
     */
    public Matrix[] split(String name, int cols, String[] parts, int... rows) {
        int total = 0;
        StringBuilder want = new StringBuilder();
        for (int i = 0; i < rows.length; i++) {
            total += rows[i];
            want.append(i > 0 ? " + " : "").append(parts[i]).append(' ').append(rows[i]);
        }
        TensorInfo t = file.requireTensor(name);
        if (t.dims().length > 2 || t.dims()[0] != cols || t.rows() != total) {
            throw error(name, "has shape " + t.shape() + ", expected [" + cols + ", " + total + "] (" + want + " rows)");
        }
        Matrix fused = matrix(name, cols, total);
        Matrix[] out = new Matrix[rows.length];
        for (int i = 0, first = 0; i < rows.length; first += rows[i], i++) out[i] = fused.rows(first, rows[i], name + "[" + parts[i] + "]");
        return out;
    }

    /**
     * The experts of a 3-D tensor {@code [cols, rows, experts]} (ggml order: expert e's rows × cols
     * matrix is one contiguous block): one matrix view per expert over the mapped bytes, nothing
     * copied (expert weights are most of a MoE file), each repacked, if at all, on its first use.
     */
    public Matrix[] experts(String name, int cols, int rows, int experts) {
        TensorInfo t = file.requireTensor(name);
        long[] d = t.dims();
        if (d.length != 3 || d[0] != cols || d[1] != rows || d[2] != experts) {
            throw error(name, "has shape " + t.shape() + ", expected [" + cols + ", " + rows + ", " + experts + "] (" + experts
                    + " experts of " + rows + " rows of " + cols + ")");
        }
        Matrix all;
        try {
            all = Matrix.of(file, t);
        } catch (IllegalArgumentException e) {
            throw new GGUFException(e.getMessage(), e);
        }
        Matrix[] m = new Matrix[experts];
        for (int e = 0; e < experts; e++) m[e] = all.rows(e * rows, rows, name + "[" + e + "]");
        return m;
    }

    /** A 2-D tensor {@code [n, experts]} of one vector per expert (expert biases), decoded to floats: expert e's at e·n; null when absent. */
    public float[] optionalExpertVectors(String name, int n, int experts) {
        TensorInfo t = file.tensor(name);
        if (t == null) return null;
        long[] d = t.dims();
        if (d.length != 2 || d[0] != n || d[1] != experts) {
            throw error(name, "has shape " + t.shape() + ", expected [" + n + ", " + experts + "] (one " + n + "-value vector per expert)");
        }
        return vector(name, n * experts);
    }

    /** A 1-D tensor of n values, decoded to floats. */
    public float[] vector(String name, int n) {
        TensorInfo t = file.requireTensor(name);
        if (t.elementCount() != n) throw error(name, "has " + t.elementCount() + " values (shape " + t.shape() + "), expected " + n);
        if (!Formats.supports(t.type())) {
            throw new UnsupportedOperationException(file.path() + ": tensor '" + name + "' has type " + t.type() + ", which Sluice does not compute");
        }
        float[] v = new float[n];
        Formats.of(t.type()).dequantize(file.data(t), 0, v, 0, n);
        return v;
    }

    /** As {@link #vector}, or null when the file has no such tensor. */
    public float[] optionalVector(String name, int n) {
        return has(name) ? vector(name, n) : null;
    }
}
