package io.sluice.model.tokenizer;

import io.sluice.gguf.GGUFFile;

import java.util.ArrayList;
import java.util.List;

/**
 * WordPiece ({@code tokenizer.ggml.model = bert}), as llama.cpp's llm_tokenizer_wpm. The text is
 * normalised BERT-style (accents stripped through NFD, lowercased, control characters dropped),
 * split at whitespace, and every punctuation mark, ASCII symbol and CJK ideograph becomes a word of
 * its own. Each word is then covered greedily by the longest vocabulary entries, left to right; a
 * word that cannot be covered becomes the unknown token.
 *
 * <p>GGUF stores BERT's vocabulary with word-initial pieces prefixed by "▁" and "##" continuation
 * pieces bare, so a word is matched as "▁" + word.
 */
final class WordPieceTokenizer extends AbstractTokenizer {
    private final boolean lowercase;
    private final boolean stripAccents;

    WordPieceTokenizer(Vocabulary vocab, GGUFFile f) {
        super(vocab);
        this.lowercase = f.getBoolean("tokenizer.ggml.normalizer.lowercase", true);
        this.stripAccents = f.getBoolean("tokenizer.ggml.normalizer.strip_accents", lowercase);
    }

    @Override
    void encode(List<Fragment> fragments, boolean addSpecial, IntList out) {
        if (addSpecial && vocab.addBos) out.add(vocab.bos); // CLS
        for (Fragment f : fragments) {
            if (f.isText()) {
                for (String word : words(f.text())) tokenizeWord(word, out);
            } else {
                out.add(f.token());
            }
        }
        if (addSpecial && vocab.addSep) out.add(vocab.sep);
    }

    private void tokenizeWord(String word, IntList out) {
        String w = "\u2581" + word;
        int n = w.length();
        int mark = out.size();
        int i = 0;
        while (i < n) {
            int found = -1, end = -1;
            for (int j = Math.min(n, i + vocab.maxTokenBytes + 1); j > i; j--) {
                int id = vocab.id(w.substring(i, j));
                if (id >= 0) {
                    found = id;
                    end = j;
                    break;
                }
            }
            if (found < 0) { // one uncoverable position discards the whole word
                out.truncate(mark);
                break;
            }
            out.add(found);
            i = end;
        }
        if (out.size() == mark && vocab.unk >= 0) out.add(vocab.unk);
    }

    /** BERT's basic tokenizer: normalise and split into words. */
    List<String> words(String text) {
        List<String> words = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        for (int cp : Unicode.codePoints(text)) {
            if (stripAccents) cp = Unicode.nfdBase(cp);
            if (Unicode.isWhitespace(cp)) {
                flush(cur, words);
                continue;
            }
            int cat = Unicode.category(cp);
            if (cp == 0 || cp == 0xFFFD || cat == Unicode.CONTROL) continue;
            if (stripAccents && cat == Unicode.MARK) continue;
            int c = lowercase ? Unicode.toLower(cp) : cp;
            if (cat == Unicode.PUNCTUATION || (cp < 0x7F && cat == Unicode.SYMBOL) || isChinese(cp)) {
                flush(cur, words);
                words.add(Character.toString(c));
            } else {
                cur.appendCodePoint(c);
            }
        }
        flush(cur, words);
        return words;
    }

    private static void flush(StringBuilder cur, List<String> words) {
        if (!cur.isEmpty()) {
            words.add(cur.toString());
            cur.setLength(0);
        }
    }

    /** The CJK ideograph blocks BERT splits into single characters (ranges as in Hugging Face's code). */
    private static boolean isChinese(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
                || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF)
                || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }
}
