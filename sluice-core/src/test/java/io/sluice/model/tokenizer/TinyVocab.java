package io.sluice.model.tokenizer;

import io.sluice.gguf.GGUFFile;
import io.sluice.gguf.GGUFWriter;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/** Builds small tokenizer-only GGUF files in a test's temporary folder. */
final class TinyVocab {
    static final int NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, BYTE = 6;

    private final String model;
    private final List<String> tokens = new ArrayList<>();
    private final List<Float> scores = new ArrayList<>();
    private final List<Integer> types = new ArrayList<>();
    private final List<String> merges = new ArrayList<>();
    private Consumer<GGUFWriter> extra = w -> { };

    TinyVocab(String model) {
        this.model = model;
    }

    /** Adds a token; returns its id. */
    int add(String text, float score, int type) {
        tokens.add(text);
        scores.add(score);
        types.add(type);
        return tokens.size() - 1;
    }

    int add(String text) {
        return add(text, 0f, NORMAL);
    }

    TinyVocab merge(String m) {
        merges.add(m);
        return this;
    }

    TinyVocab meta(Consumer<GGUFWriter> more) {
        Consumer<GGUFWriter> before = extra;
        extra = w -> {
            before.accept(w);
            more.accept(w);
        };
        return this;
    }

    int id(String text) {
        return tokens.indexOf(text);
    }

    Path write(Path dir, String fileName) {
        GGUFWriter w = new GGUFWriter().putString("general.architecture", "test").putString("tokenizer.ggml.model", model);
        w.putArray("tokenizer.ggml.tokens", tokens.toArray(String[]::new));
        float[] s = new float[scores.size()];
        for (int i = 0; i < s.length; i++) s[i] = scores.get(i);
        w.putArray("tokenizer.ggml.scores", s);
        w.putArray("tokenizer.ggml.token_type", types.stream().mapToInt(Integer::intValue).toArray());
        if (!merges.isEmpty()) w.putArray("tokenizer.ggml.merges", merges.toArray(String[]::new));
        extra.accept(w);
        Path p = dir.resolve(fileName);
        try {
            w.write(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }

    Tokenizer build(Path dir) {
        try (GGUFFile f = GGUFFile.open(write(dir, model + "-" + System.nanoTime() + ".gguf"))) {
            return Tokenizer.fromGGUF(f);
        }
    }
}
