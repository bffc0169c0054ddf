package io.sluice.model.tokenizer;

import io.sluice.gguf.GGUFFile;

/**
 * Text to token ids and back, exactly as llama.cpp does it for the same GGUF file.
 *
 * <p>Implementations are immutable after construction and safe to share between threads (use one
 * {@link StreamingDecoder} per sequence for incremental decoding).
 */
public interface Tokenizer {

    /**
     * Builds the tokenizer the file's {@code tokenizer.ggml.model} names: {@code llama}
     * (SentencePiece-style), {@code gpt2} (byte-level BPE, pre-tokenizer from {@code tokenizer.ggml.pre})
     * or {@code bert} (WordPiece). Everything is copied out of the file, which may be closed afterwards.
     *
     * @throws IllegalArgumentException for another tokenizer model, an unsupported pre-tokenizer or
     *                                  inconsistent tokenizer metadata
     */
    static Tokenizer fromGGUF(GGUFFile f) {
        String model = f.getString("tokenizer.ggml.model", null);
        if (model == null) throw new IllegalArgumentException(f.path() + ": no tokenizer in this file (tokenizer.ggml.model is missing)");
        return switch (model) {
            case "llama" -> new SpmTokenizer(new Vocabulary(f, Vocabulary.Kind.SPM, null));
            case "gpt2" -> {
                PreTokenizer.Config pre = PreTokenizer.forName(f.getString("tokenizer.ggml.pre", "default"));
                yield new BpeTokenizer(new Vocabulary(f, Vocabulary.Kind.BPE, pre), pre, f);
            }
            case "bert" -> new WordPieceTokenizer(new Vocabulary(f, Vocabulary.Kind.WPM, null), f);
            default -> throw new IllegalArgumentException(f.path() + ": unsupported tokenizer model '" + model
                    + "' (tokenizer.ggml.model); supported: llama (SentencePiece), gpt2 (byte-level BPE), bert (WordPiece)");
        };
    }

    /**
     * Token ids of {@code text}.
     *
     * @param addSpecial   add the BOS/EOS tokens the metadata asks for (add_bos_token / add_eos_token;
     *                     for bert: CLS before and SEP after)
     * @param parseSpecial recognise control-token text such as {@code <|im_start|>} as that token;
     *                     when false it is tokenized as plain text (user-defined tokens are always recognised)
     */
    int[] encode(String text, boolean addSpecial, boolean parseSpecial);

    /**
     * Token ids of a prompt whose text is partly the user's: as {@code encode(text, addSpecial, true)},
     * except that control-token text overlapping the {@code untrusted} char ranges ({@code [start, end)}
     * pairs, sorted and disjoint, as {@link io.sluice.template.Rendered#untrusted()} gives them) is tokenized
     * as plain text, as {@code parseSpecial=false} does. A chat template's own markers stay control tokens;
     * {@code <|im_end|>} typed in a message does not become one. The text between recognised special tokens
     * is tokenized in one piece, exactly as {@code encode} does, so a prompt whose untrusted text holds no
     * control-token text gives the same ids as {@code encode(text, addSpecial, true)}.
     */
    default int[] encodePrompt(String text, boolean addSpecial, int[] untrusted) {
        // For tokenizers other than the GGUF ones (which cut exactly): trusted and untrusted pieces apart.
        if (untrusted == null || untrusted.length == 0) return encode(text, addSpecial, true);
        IntList out = new IntList();
        if (addSpecial && addBos() && bos() >= 0) out.add(bos());
        int at = 0;
        for (int i = 0; i <= untrusted.length; i += 2) {
            int s = i < untrusted.length ? untrusted[i] : text.length(), e = i < untrusted.length ? untrusted[i + 1] : text.length();
            if (s > at) out.addAll(encode(text.substring(at, s), false, true));
            if (e > s) out.addAll(encode(text.substring(s, e), false, false));
            at = e;
        }
        if (addSpecial && addEos() && eos() >= 0) out.add(eos());
        return out.toArray();
    }

    int vocabSize();

    /** The raw vocabulary string of {@code id}. */
    String tokenText(int id);

    /** The id whose raw vocabulary string is exactly {@code text}, or -1. */
    default int tokenId(String text) {
        for (int id = 0; id < vocabSize(); id++) if (tokenText(id).equals(text)) return id;
        return -1;
    }

    /**
     * The bytes {@code id} contributes to decoded text: SentencePiece "▁" as a space, {@code <0xNN>}
     * as that byte, byte-level BPE characters as their bytes; control and unknown tokens give nothing.
     */
    byte[] tokenBytes(int id);

    /** The bytes {@code id} contributes; with {@code renderSpecial}, control/unknown tokens give their text. */
    default byte[] tokenBytes(int id, boolean renderSpecial) {
        return tokenBytes(id);
    }

    /**
     * Full detokenization like llama.cpp's {@code llama_detokenize}: special tokens rendered as nothing,
     * SentencePiece's leading space of the first token dropped, and (for the vocabularies llama.cpp
     * does it for) spaces before punctuation and contractions cleaned up.
     */
    String decode(int[] ids);

    /** Full detokenization; with {@code renderSpecial}, control tokens appear as their text. */
    default String decode(int[] ids, boolean renderSpecial) {
        return decode(ids);
    }

    /** Beginning-of-sequence token (CLS for bert), or -1. */
    int bos();

    /** End-of-sequence token, or -1. */
    int eos();

    boolean addBos();

    boolean addEos();

    /** Separator token (BERT's [SEP]), or -1. */
    default int sep() {
        return -1;
    }

    /** Whether encoding with special tokens appends SEP (BERT). */
    default boolean addSep() {
        return false;
    }

    /** Whether generating {@code id} ends the turn: EOS, EOT, EOM and end-marker tokens such as {@code <|im_end|>}. */
    boolean isEog(int id);

    boolean isControl(int id);
}
