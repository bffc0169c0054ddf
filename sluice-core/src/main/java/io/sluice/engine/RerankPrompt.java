package io.sluice.engine;

import io.sluice.model.EmbeddingModel;
import io.sluice.model.tokenizer.Tokenizer;

/**
 * The tokens a reranker scores for one (query, document) pair, as llama-server builds them: the
 * file's {@code tokenizer.chat_template.rerank} with {query} and {document} replaced (Qwen3-Reranker's
 * instruction prompt; tokenized with special tokens recognised in the template's text, never in the query's
 * or document's), else
 * [BOS] query [EOS] [SEP] document [EOS], each marker where the vocabulary adds it (EOS falling
 * back to SEP): [CLS] query [SEP] document for BERT cross-encoders.
 */
public final class RerankPrompt {
    private RerankPrompt() {
    }

    /** The model's rerank template, or null. */
    public static String template(EmbeddingModel m) {
        return m.file() == null ? null : m.file().getString("tokenizer.chat_template.rerank", null);
    }

    public static int[] tokens(Tokenizer tok, String template, String query, String document) {
        if (template != null) {
            // Both placeholders replaced in one pass: a query containing "{document}" stays text. The query and
            // document are the request's: control-token text in them stays text (only the template's are tokens).
            StringBuilder sb = new StringBuilder();
            java.util.List<Integer> untrusted = new java.util.ArrayList<>();
            for (int i = 0; i < template.length(); ) {
                if (template.startsWith("{query}", i)) {
                    untrusted.add(sb.length());
                    sb.append(query);
                    untrusted.add(sb.length());
                    i += 7;
                } else if (template.startsWith("{document}", i)) {
                    untrusted.add(sb.length());
                    sb.append(document);
                    untrusted.add(sb.length());
                    i += 10;
                } else {
                    sb.append(template.charAt(i++));
                }
            }
            return tok.encodePrompt(sb.toString(), false, untrusted.stream().mapToInt(Integer::intValue).toArray());
        }
        int eos = tok.eos() >= 0 ? tok.eos() : tok.sep();
        int[] q = tok.encode(query, false, false), d = tok.encode(document, false, false);
        int[] out = new int[q.length + d.length + 4];
        int n = 0;
        if (tok.addBos() && tok.bos() >= 0) out[n++] = tok.bos();
        for (int t : q) out[n++] = t;
        if (tok.addEos() && eos >= 0) out[n++] = eos;
        if (tok.addSep() && tok.sep() >= 0) out[n++] = tok.sep();
        for (int t : d) out[n++] = t;
        if (tok.addEos() && eos >= 0) out[n++] = eos;
        return java.util.Arrays.copyOf(out, n);
    }
}
