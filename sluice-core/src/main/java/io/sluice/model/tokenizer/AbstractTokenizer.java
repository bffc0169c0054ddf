package io.sluice.model.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** What the three tokenizer kinds share: special-token partitioning, the token table, detokenization. */
abstract sealed class AbstractTokenizer implements Tokenizer permits SpmTokenizer, BpeTokenizer, WordPieceTokenizer {
    final Vocabulary vocab;

    AbstractTokenizer(Vocabulary vocab) {
        this.vocab = vocab;
    }

    @Override
    public final int[] encode(String text, boolean addSpecial, boolean parseSpecial) {
        if (text == null) throw new IllegalArgumentException("text is null");
        List<Fragment> fragments = vocab.partition(Unicode.sanitize(text), parseSpecial);
        IntList out = new IntList();
        encode(fragments, addSpecial, out);
        return out.toArray();
    }

    @Override
    public final int[] encodePrompt(String text, boolean addSpecial, int[] untrusted) {
        if (text == null) throw new IllegalArgumentException("text is null");
        List<Fragment> fragments = vocab.partition(Unicode.sanitize(text), true, untrusted); // sanitize keeps char offsets
        IntList out = new IntList();
        encode(fragments, addSpecial, out);
        return out.toArray();
    }

    /** Tokenizes the partitioned input, adding the kind's special tokens when {@code addSpecial}. */
    abstract void encode(List<Fragment> fragments, boolean addSpecial, IntList out);

    @Override public int vocabSize() { return vocab.size(); }
    @Override public String tokenText(int id) { return vocab.text(id); }
    @Override public int tokenId(String text) { return vocab.id(text); }
    @Override public byte[] tokenBytes(int id) { return vocab.piece(id, false); }
    @Override public byte[] tokenBytes(int id, boolean renderSpecial) { return vocab.piece(id, renderSpecial); }
    @Override public int bos() { return vocab.bos; }
    @Override public int eos() { return vocab.eos; }
    @Override public boolean addBos() { return vocab.addBos; }
    @Override public boolean addEos() { return vocab.addEos; }
    @Override public int sep() { return vocab.sep; }
    @Override public boolean addSep() { return vocab.addSep; }
    @Override public boolean isEog(int id) { return vocab.isEog(id); }
    @Override public boolean isControl(int id) { return id >= 0 && id < vocab.size() && (vocab.attr(id) & Vocabulary.CONTROL) != 0; }

    @Override
    public String decode(int[] ids) {
        return decode(ids, false);
    }

    @Override
    public String decode(int[] ids, boolean renderSpecial) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(ids.length * 4);
        // SentencePiece text starts with the space the encoder added: drop it from the first piece.
        boolean dropLeadingSpace = vocab.addSpacePrefix;
        for (int id : ids) {
            byte[] piece = vocab.piece(id, renderSpecial);
            int skip = dropLeadingSpace && piece.length > 0 && piece[0] == ' ' ? 1 : 0;
            dropLeadingSpace = false;
            out.write(piece, skip, piece.length - skip);
        }
        byte[] bytes = out.toByteArray();
        if (vocab.cleanSpaces) bytes = cleanUpSpaces(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /**
     * Hugging Face's clean_up_tokenization_spaces as llama.cpp applies it: no space before {@code ? ! . ,},
     * none around a lone apostrophe, and none before {@code 's 'm 're 've}.
     */
    static byte[] cleanUpSpaces(byte[] t) {
        int n = t.length;
        if (n == 0) return t;
        byte[] a = t.clone();
        // " ?", " !", " .", " ,"
        int m = 1;
        for (int i = 1; i < n; i++) {
            byte x = a[i];
            if (a[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) m--;
            a[m++] = x;
        }
        n = m;
        // " ' " -> "'"
        m = 1;
        for (int i = 1; i < n; i++) {
            byte x = a[i];
            if (x == '\'' && i + 1 < n && a[i - 1] == ' ' && a[i + 1] == ' ') {
                m--;
                a[++i] = 0; // the space after is consumed: skipped by the loop, and no longer a space
            }
            a[m++] = x;
        }
        n = m;
        // " 's", " 'm", " 're", " 've"
        m = 1;
        for (int i = 1; i < n; i++) {
            byte x = a[i];
            if (a[i - 1] == ' ' && x == '\'' && i + 1 < n) {
                byte x1 = a[i + 1];
                if (x1 == 's' || x1 == 'm') m--;
                else if (i + 2 < n && ((x1 == 'r' && a[i + 2] == 'e') || (x1 == 'v' && a[i + 2] == 'e'))) m--;
            }
            a[m++] = x;
        }
        return java.util.Arrays.copyOf(a, m);
    }
}
