package io.sluice.model.nn;

import io.sluice.model.Weights;
import io.sluice.tensor.Matrix;

/**
 * A reranker's classification head over the pooled state, as llama.cpp's build_pooling does for
 * rank pooling: an optional dense layer {@code cls.weight} (+ {@code cls.bias}) with tanh
 * (RoBERTa's classifier.dense; jina-reranker's single projection), then an optional output
 * projection {@code cls.output.weight} (+ bias) to the labels, then for decoder rerankers
 * (Qwen3-Reranker: the "yes" and "no" rows of its LM head) a softmax over the labels.
 */
public final class ClassifierHead {
    private final Matrix dense;
    private final float[] denseBias;
    private final Matrix output;
    private final float[] outputBias;
    private final boolean softmax;

    private ClassifierHead(Matrix dense, float[] denseBias, Matrix output, float[] outputBias, boolean softmax) {
        this.dense = dense;
        this.denseBias = denseBias;
        this.output = output;
        this.outputBias = outputBias;
        this.softmax = softmax;
    }

    /** The head of a model of width dim, or a clear error when the file has none. */
    public static ClassifierHead load(Weights w, int dim, boolean softmax) {
        Matrix dense = w.optionalMatrix("cls.weight", dim, -1);
        float[] denseBias = dense == null ? null : w.optionalVector("cls.bias", dense.rows());
        Matrix output = w.optionalMatrix("cls.output.weight", dense == null ? dim : dense.rows(), -1);
        float[] outputBias = output == null ? null : w.optionalVector("cls.output.bias", output.rows());
        if (dense == null && output == null) {
            throw w.error("cls.output.weight", "is missing: rank pooling needs a classification head (cls.weight or cls.output.weight)");
        }
        if (softmax && output == null) throw w.error("cls.output.weight", "is missing: a decoder reranker scores with its label rows");
        return new ClassifierHead(dense, denseBias, output, outputBias, softmax);
    }

    /** Scores per input row. */
    public int labels() {
        return output != null ? output.rows() : dense.rows();
    }

    /** Floats per row the work buffer must hold. */
    public int width() {
        return dense != null ? dense.rows() : 0;
    }

    /** out = head(x) for n rows of x (each as wide as the model); work holds n × {@link #width()} floats. */
    public void forward(float[] x, int n, float[] work, float[] out) {
        float[] in = x;
        if (dense != null) {
            float[] d = output != null ? work : out;
            dense.matmul(x, d, n);
            Ops.addBias(d, denseBias, n);
            for (int i = 0; i < n * dense.rows(); i++) d[i] = (float) Math.tanh(d[i]);
            in = d;
        }
        if (output != null) {
            output.matmul(in, out, n);
            Ops.addBias(out, outputBias, n);
        }
        if (softmax) {
            int k = labels();
            for (int r = 0; r < n; r++) {
                float max = Float.NEGATIVE_INFINITY, sum = 0;
                for (int i = 0; i < k; i++) max = Math.max(max, out[r * k + i]);
                for (int i = 0; i < k; i++) sum += out[r * k + i] = (float) Math.exp(out[r * k + i] - max);
                for (int i = 0; i < k; i++) out[r * k + i] /= sum;
            }
        }
    }
}
