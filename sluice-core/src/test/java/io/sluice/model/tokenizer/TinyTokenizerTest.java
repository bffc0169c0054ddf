package io.sluice.model.tokenizer;

import io.sluice.gguf.GGUFFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Tokenizers over small hand-made vocabularies, with expectations worked out by hand; needs no fixtures. */
class TinyTokenizerTest {
    @TempDir
    Path dir;

    // ---- SentencePiece ----

    /** <unk> <s> </s>, the 256 byte tokens, then a few pieces whose scores decide the merge order. */
    private static TinyVocab spmVocab() {
        TinyVocab v = new TinyVocab("llama");
        v.add("<unk>", 0, TinyVocab.UNKNOWN);
        v.add("<s>", 0, TinyVocab.CONTROL);
        v.add("</s>", 0, TinyVocab.CONTROL);
        for (int b = 0; b < 256; b++) v.add(String.format("<0x%02X>", b), 0, TinyVocab.BYTE);
        v.add("▁", -1f, TinyVocab.NORMAL);
        v.add("a", -2f, TinyVocab.NORMAL);
        v.add("b", -2f, TinyVocab.NORMAL);
        v.add("c", -2f, TinyVocab.NORMAL);
        v.add("ab", -0.2f, TinyVocab.NORMAL);
        v.add("▁a", -0.5f, TinyVocab.NORMAL);
        v.add("▁ab", -0.1f, TinyVocab.NORMAL);
        v.add("bc", -0.3f, TinyVocab.NORMAL);
        v.add("<|im_start|>", 0, TinyVocab.CONTROL);
        v.add("<|im_end|>", 0, TinyVocab.NORMAL); // a chat end marker not typed as control: llama.cpp fixes that up
        return v;
    }

    private static int byteId(int b) {
        return 3 + b;
    }

    @Test
    void spmMergesTheHighestScoringPairFirst() {
        TinyVocab v = spmVocab();
        Tokenizer t = v.build(dir);
        // "▁abc": "ab" (-0.2) beats "bc" (-0.3) and "▁a" (-0.5); then "▁ab" (-0.1) forms; "abc" is no token.
        assertArrayEquals(new int[]{v.id("▁ab"), v.id("c")}, t.encode("abc", false, false));
        assertArrayEquals(new int[]{v.id("▁"), v.id("c"), v.id("ab")}, t.encode("cab", false, false));
        assertArrayEquals(new int[]{v.id("▁ab"), v.id("▁"), v.id("c")}, t.encode("ab c", false, false));
        assertArrayEquals(new int[0], t.encode("", false, false));
    }

    @Test
    void spmFallsBackToByteTokens() {
        TinyVocab v = spmVocab();
        Tokenizer t = v.build(dir);
        assertArrayEquals(new int[]{v.id("▁"), byteId(0xC3), byteId(0xA9)}, t.encode("é", false, false));
        assertEquals("é", t.decode(t.encode("é", false, false)));
        assertEquals("ab cé", t.decode(t.encode("ab cé", false, false)));
        assertArrayEquals(new byte[]{(byte) 0xA9}, t.tokenBytes(byteId(0xA9)));
        assertArrayEquals(" ab".getBytes(StandardCharsets.UTF_8), t.tokenBytes(v.id("▁ab")));
    }

    @Test
    void spmSpecialTokensAndSpacePrefix() {
        TinyVocab v = spmVocab();
        Tokenizer t = v.build(dir);
        int start = v.id("<|im_start|>");
        assertArrayEquals(new int[]{1, v.id("▁ab")}, t.encode("ab", true, false));
        assertArrayEquals(new int[]{start, v.id("▁ab")}, t.encode("<|im_start|>ab", false, true));
        assertArrayEquals(new int[]{v.id("▁"), byteId('x'), start, v.id("▁ab")}, t.encode("x<|im_start|>ab", false, true));
        int[] plain = t.encode("<|im_start|>ab", false, false);
        for (int id : plain) assertTrue(id != start, "control text must stay text without parseSpecial");
        assertEquals("<|im_start|>ab", t.decode(plain));
        // Like llama.cpp: only the first token's leading space is dropped, and here that token is the control token.
        assertEquals(" ab", t.decode(new int[]{start, v.id("▁ab")}));
        assertEquals("<|im_start|> ab", t.decode(new int[]{start, v.id("▁ab")}, true));
    }

    @Test
    void spmWithoutSpacePrefix() {
        TinyVocab v = spmVocab().meta(w -> w.putBool("tokenizer.ggml.add_space_prefix", false));
        Tokenizer t = v.build(dir);
        assertArrayEquals(new int[]{v.id("ab"), v.id("c")}, t.encode("abc", false, false));
        assertEquals("abc", t.decode(t.encode("abc", false, false)));
        assertEquals(" abc", t.decode(t.encode(" abc", false, false)));
    }

    @Test
    void endOfGenerationFoundByText() {
        TinyVocab v = spmVocab();
        Tokenizer t = v.build(dir);
        int end = v.id("<|im_end|>");
        assertTrue(t.isEog(2), "EOS");
        assertTrue(t.isEog(end), "<|im_end|> ends a turn");
        assertTrue(t.isControl(end), "and is treated as control");
        assertFalse(t.isEog(1));
        assertFalse(t.isEog(v.id("<|im_start|>")));
        assertArrayEquals(new int[]{end}, t.encode("<|im_end|>", false, true));
        assertArrayEquals(new byte[0], t.tokenBytes(end));
        assertEquals(1, t.bos());
        assertEquals(2, t.eos());
        assertTrue(t.addBos());
        assertFalse(t.addEos());
    }

    // ---- byte-level BPE ----

    /** GPT-2's byte alphabet, written out independently of the implementation. */
    private static char byteChar(int b) {
        if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) return (char) b;
        int n = 0;
        for (int x = 0; x < b; x++) {
            if (!((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF))) n++;
        }
        return (char) (256 + n);
    }

    private static TinyVocab bpeVocab(String pre) {
        TinyVocab v = new TinyVocab("gpt2");
        for (int b = 0; b < 256; b++) v.add(String.valueOf(byteChar(b))); // token id == byte value
        for (String m : new String[]{"l l", "h e", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "Ġwor l", "Ġworl d"}) {
            v.merge(m);
            v.add(m.replace(" ", ""));
        }
        v.add("xyz");
        int eot = v.add("<|endoftext|>", 0, TinyVocab.CONTROL);
        return v.meta(w -> w.putString("tokenizer.ggml.pre", pre)
                .putU32("tokenizer.ggml.bos_token_id", eot).putU32("tokenizer.ggml.eos_token_id", eot));
    }

    @Test
    void bpeMergesByRank() {
        TinyVocab v = bpeVocab("gpt-2");
        Tokenizer t = v.build(dir);
        assertEquals('Ġ', byteChar(' '));
        assertArrayEquals(new int[]{v.id("hello"), v.id("Ġworld")}, t.encode("hello world", false, false));
        // "l l" (rank 0) pairs leftmost first: l l l l -> ll ll; then "h e", "he ll".
        assertArrayEquals(new int[]{v.id("hell"), v.id("ll"), 'o'}, t.encode("hellllo", false, false));
        assertArrayEquals(new int[]{v.id("ll"), 'l'}, t.encode("lll", false, false));
        // é is two bytes, spelled by their byte characters.
        assertArrayEquals(new int[]{'h', 0xC3, 0xA9, v.id("ll"), 'o'}, t.encode("héllo", false, false));
        // No merge builds "xyz", so GPT-2 never uses that token.
        assertArrayEquals(new int[]{'x', 'y', 'z'}, t.encode("xyz", false, false));
    }

    @Test
    void bpeDecodes() {
        TinyVocab v = bpeVocab("gpt-2");
        Tokenizer t = v.build(dir);
        for (String s : new String[]{"hello world", "héllo wörld 🦙\n\t x", "  leading and trailing  "}) {
            assertEquals(s, t.decode(t.encode(s, false, false)));
        }
        assertEquals("hello, world!", t.decode(t.encode("hello , world !", false, false))); // GPT-2 cleans spaces
        assertArrayEquals(" world".getBytes(StandardCharsets.UTF_8), t.tokenBytes(v.id("Ġworld")));
        int eot = v.id("<|endoftext|>");
        assertEquals("hello", t.decode(new int[]{v.id("hello"), eot}));
        assertEquals("hello<|endoftext|>", t.decode(new int[]{v.id("hello"), eot}, true));
        assertArrayEquals(new int[]{v.id("hello"), eot, v.id("Ġworld")}, t.encode("hello<|endoftext|> world", false, true));
        assertTrue(t.isEog(eot));
        assertFalse(t.addBos());
    }

    @Test
    void llama3PreTokenizerUsesWholeWordsAndAddsBos() {
        TinyVocab v = bpeVocab("llama-bpe");
        Tokenizer t = v.build(dir);
        int eot = v.id("<|endoftext|>");
        assertArrayEquals(new int[]{v.id("xyz")}, t.encode("xyz", false, false)); // ignore_merges: a word in the vocabulary is one token
        assertTrue(t.addBos());
        assertArrayEquals(new int[]{eot, v.id("hello")}, t.encode("hello", true, false));
    }

    @Test
    void streamingHoldsIncompleteCharacters() {
        TinyVocab v = bpeVocab("gpt-2");
        Tokenizer t = v.build(dir);
        StreamingDecoder d = new StreamingDecoder(t);
        byte[] llama = "🦙".getBytes(StandardCharsets.UTF_8);
        assertEquals("", d.accept(llama[0] & 0xFF));
        assertEquals("", d.accept(llama[1] & 0xFF));
        assertEquals("", d.accept(v.id("<|endoftext|>"))); // a control token in between renders nothing
        assertEquals("", d.accept(llama[2] & 0xFF));
        assertEquals("🦙", d.accept(llama[3] & 0xFF));
        assertEquals(" world", d.accept(v.id("Ġworld")));
        // Bytes that can never form a character are released at once, as U+FFFD.
        assertEquals("\uFFFD", d.accept(0xA9));
        assertEquals("", d.accept(0xC3));
        assertEquals("\uFFFDh", d.accept('h'));
        assertEquals("", d.accept(0xE2));
        assertEquals("\uFFFD", d.flush());
        assertEquals("", d.flush());
    }

    // ---- WordPiece ----

    private static TinyVocab wpmVocab(Consumer<TinyVocab> more) {
        TinyVocab v = new TinyVocab("bert");
        v.add("[PAD]", 0, TinyVocab.CONTROL);
        v.add("[UNK]", 0, TinyVocab.CONTROL);
        v.add("[CLS]", 0, TinyVocab.CONTROL);
        v.add("[SEP]", 0, TinyVocab.CONTROL);
        for (String s : new String[]{"▁hello", "▁play", "ing", "▁!", "▁world", "▁中", "▁文"}) v.add(s);
        more.accept(v);
        return v;
    }

    private static TinyVocab wpmVocab() {
        return wpmVocab(v -> v.meta(w -> w.putU32("tokenizer.ggml.cls_token_id", 2).putU32("tokenizer.ggml.seperator_token_id", 3)
                .putU32("tokenizer.ggml.unknown_token_id", 1).putU32("tokenizer.ggml.padding_token_id", 0)));
    }

    @Test
    void wordPieceNormalisesAndMatchesLongestPieces() {
        TinyVocab v = wpmVocab();
        Tokenizer t = v.build(dir);
        int hello = v.id("▁hello"), play = v.id("▁play"), ing = v.id("ing"), bang = v.id("▁!"), world = v.id("▁world");
        assertArrayEquals(new int[]{2, hello, play, ing, world, bang, 3}, t.encode("Héllo PLAYING world!", true, false));
        assertArrayEquals(new int[]{hello, world}, t.encode("hello\tworld\n", false, false));
        assertArrayEquals(new int[]{1}, t.encode("xyz", false, false));
        assertArrayEquals(new int[]{play, 1}, t.encode("play ingx", false, false)); // "ingx" has no word-initial piece
        assertArrayEquals(new int[]{v.id("▁中"), v.id("▁文")}, t.encode("中文", false, false)); // CJK characters are words
        assertArrayEquals(new int[]{1}, t.encode("hello\u200Bworld", false, false)); // format char dropped: one unknown word
        assertEquals(2, t.bos());
    }

    // ---- pre-tokenizers ----

    private static java.util.List<String> split(String pre, String text) {
        return PreTokenizer.split(PreTokenizer.forName(pre), text);
    }

    @Test
    void preTokenizerSplits() {
        assertEquals(java.util.List.of("Hello", " world", "'s", " ", " x", "\n", "\n", "y", " 123"),
                split("gpt-2", "Hello world's  x\n\ny 123"));
        assertEquals(java.util.List.of("Hello", " world", "'S", " ", "123", "456", "7", " ..\n\n"),
                split("llama-bpe", "Hello world'S 1234567 ..\n\n"));
        assertEquals(java.util.List.of("Hello", " ", "1", "2", "3"), split("qwen2", "Hello 123"));
        assertEquals(java.util.List.of("Hello", " ", "世界", " ", "123", "\n"), split("deepseek-llm", "Hello 世界 123\n"));
        assertEquals(java.util.List.of("Hello", " world", "!!", " ", "123", "4"), split("falcon", "Hello world!! 1234"));
        assertEquals(java.util.List.of("x", "1", "2"), split("starcoder", "x12"));
        assertEquals(java.util.List.of(), split("gpt-2", ""));
    }

    /** The hand-coded GPT-2 and Llama 3 scanners agree with the same patterns run as regular expressions. */
    @Test
    void scannersAgreeWithTheirRegularExpressions() {
        String gpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
        String llama3 = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
        PreTokenizer.Config gpt2Regex = new PreTokenizer.Config("t", java.util.List.of(PreTokenizer.regex(gpt2)), true, false, false, false);
        PreTokenizer.Config llama3Regex = new PreTokenizer.Config("t", java.util.List.of(PreTokenizer.regex(llama3)), true, false, false, false);
        String[] pool = {"a", "Z", "é", "ж", "中", "٣", "7", "½", " ", "  ", "\t", "\n", "\r", "\u00A0", "\u3000", "'", "'s", "'LL",
                "!", "?", ".", "-", "$", "~", "🦙", "\u0301", "\u200D", "\u0000", "🚀"};
        java.util.Random rnd = new java.util.Random(42);
        for (int i = 0; i < 3000; i++) {
            StringBuilder sb = new StringBuilder();
            for (int k = rnd.nextInt(12); k >= 0; k--) sb.append(pool[rnd.nextInt(pool.length)]);
            String s = sb.toString();
            assertEquals(PreTokenizer.split(gpt2Regex, s), split("gpt-2", s), () -> "gpt-2 on " + VocabFixtures.show(s));
            assertEquals(PreTokenizer.split(llama3Regex, s), split("llama-bpe", s), () -> "llama3 on " + VocabFixtures.show(s));
        }
    }

    // ---- errors ----

    @Test
    void clearErrorsForUnsupportedOrBrokenVocabularies() {
        TinyVocab t5 = new TinyVocab("t5");
        t5.add("a");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t5.build(dir));
        assertTrue(e.getMessage().contains("'t5'") && e.getMessage().contains("gpt2"), e.getMessage());

        e = assertThrows(IllegalArgumentException.class, () -> bpeVocab("no-such-pre").build(dir));
        assertTrue(e.getMessage().contains("'no-such-pre'"), e.getMessage());

        TinyVocab noMerges = new TinyVocab("gpt2");
        noMerges.add("a");
        e = assertThrows(IllegalArgumentException.class, () -> noMerges.build(dir));
        assertTrue(e.getMessage().contains("tokenizer.ggml.merges"), e.getMessage());

        // BERT adds CLS by default, and the default CLS id (101) lies outside this 11-token vocabulary.
        e = assertThrows(IllegalArgumentException.class, () -> wpmVocab(v -> { }).build(dir));
        assertTrue(e.getMessage().contains("add_bos_token"), e.getMessage());

        Path empty = new TinyVocab("llama").write(dir, "empty.gguf");
        try (GGUFFile f = GGUFFile.open(empty)) {
            e = assertThrows(IllegalArgumentException.class, () -> Tokenizer.fromGGUF(f));
            assertTrue(e.getMessage().contains("empty"), e.getMessage());
        }

        Tokenizer t = spmVocab().build(dir);
        e = assertThrows(IllegalArgumentException.class, () -> t.decode(new int[]{1, 99999}));
        assertTrue(e.getMessage().contains("99999"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> t.tokenText(-1));
        assertThrows(IllegalArgumentException.class, () -> t.encode(null, false, false));
    }

    @Test
    void loneSurrogatesAreEncodedAsReplacementCharacters() {
        Tokenizer t = bpeVocab("gpt-2").build(dir);
        assertArrayEquals(t.encode("a\uFFFDb", false, false), t.encode("a\uD800b", false, false));
    }
}
