package io.sluice.grammar;

import com.fasterxml.jackson.databind.JsonNode;
import io.sluice.model.tokenizer.Tokenizer;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Compiled grammars of one vocabulary, by source: requests that send the same schema or GBNF text
 * share one {@link TokenGrammar}, with its token-mask caches already warm. Least recently used
 * grammars are dropped beyond the capacity. The vocabulary structures are built on first use.
 * Thread-safe.
 */
public final class GrammarCache {
    private final Supplier<TokenVocabulary> vocab;
    private final int capacity;
    private final Map<String, TokenGrammar> byKey;

    public GrammarCache(Tokenizer tokenizer, int capacity) {
        this(() -> TokenVocabulary.of(tokenizer), capacity);
    }

    public GrammarCache(Supplier<TokenVocabulary> vocab, int capacity) {
        this.vocab = vocab;
        this.capacity = capacity;
        this.byKey = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, TokenGrammar> eldest) {
                return size() > GrammarCache.this.capacity;
            }
        };
    }

    /** The grammar of GBNF source text. @throws GrammarException when it is not a usable grammar */
    public TokenGrammar gbnf(String source) {
        return get("gbnf\0" + source, () -> Grammar.parseGbnf(source));
    }

    /** The grammar of JSON documents valid against schema. @throws GrammarException for unsupported or invalid schemas */
    public TokenGrammar jsonSchema(JsonNode schema) {
        return get("schema\0" + schema, () -> JsonSchemaGrammar.fromSchema(schema));
    }

    /** Any JSON object. */
    public TokenGrammar jsonObject() {
        return get("object", JsonSchemaGrammar::anyObject);
    }

    private TokenGrammar get(String key, Supplier<Grammar> make) {
        synchronized (byKey) {
            TokenGrammar g = byKey.get(key);
            if (g != null) return g;
        }
        // Compiled outside the lock: a slow grammar does not hold up requests for cached ones.
        TokenGrammar g = TokenGrammar.compile(make.get(), vocab.get());
        synchronized (byKey) {
            byKey.putIfAbsent(key, g);
            return byKey.get(key);
        }
    }
}
