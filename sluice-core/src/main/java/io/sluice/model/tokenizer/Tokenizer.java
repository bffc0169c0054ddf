package io.sluice.model.tokenizer;

import io.sluice.gguf.GGUFFile;

/** Text to token ids and back, as llama.cpp does it, configured from GGUF metadata. */
public interface Tokenizer {
    /** Picks the implementation named by tokenizer.ggml.model. */
    static Tokenizer fromGGUF(GGUFFile f) {
        throw new UnsupportedOperationException("tokenizer not implemented yet");
    }

    int[] encode(String text, boolean addSpecial, boolean parseSpecial);

    int vocabSize();

    String tokenText(int id);

    byte[] tokenBytes(int id);

    String decode(int[] ids);

    int bos();

    int eos();

    boolean addBos();

    boolean addEos();

    boolean isEog(int id);

    boolean isControl(int id);
}
