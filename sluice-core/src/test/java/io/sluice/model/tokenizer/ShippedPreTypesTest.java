package io.sluice.model.tokenizer;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The tokenizer.ggml.pre values the new architectures' GGUF files ship split text exactly as the
 * pre-tokenizer llama.cpp's llama-vocab.cpp assigns them, with its clean_spaces / ignore_merges /
 * add_bos flags (Gemma's vocabularies are SentencePiece and use none).
 */
class ShippedPreTypesTest {
    private static final String TEXT = "Hello World! It's 2025: CamelCaseWords, ÀÉÎ naïve  \n\n  12345 tabs\tand\u00a0NBSP's ok?";

    @ParameterizedTest(name = "{0} ({1}) splits as {2}")
    @CsvSource({
            // shipped pre-type, by          , splits like, clean_spaces, ignore_merges, add_bos
            "qwen2,       Qwen3,               qwen2,       false, false, false",
            "gpt-4o,      Phi-4-mini,          gpt-4o,      false, false, false",
            "smaug-bpe,   SmolLM3,             llama-bpe,   true,  false, false",
            "refact,      Granite 3,           starcoder,   true,  false, false",
            "dbrx,        OLMo 2,              llama-bpe,   true,  false, false",
            "llama-bpe,   Llama 3.x,           llama-bpe,   true,  true,  true",
            "tekken,      Mistral 3,           tekken,      false, true,  true"})
    void mapsOntoTheSamePreTokenizerAsLlamaCpp(String pre, String model, String like, boolean clean, boolean ignoreMerges, boolean addBos) {
        PreTokenizer.Config c = PreTokenizer.forName(pre.trim());
        List<String> words = PreTokenizer.split(c, TEXT);
        assertEquals(PreTokenizer.split(PreTokenizer.forName(like.trim()), TEXT), words, model + ": " + words);
        assertEquals(clean, c.cleanSpaces(), "clean_spaces");
        assertEquals(ignoreMerges, c.ignoreMerges(), "ignore_merges");
        assertEquals(addBos, c.addBos(), "add_bos");
    }
}
