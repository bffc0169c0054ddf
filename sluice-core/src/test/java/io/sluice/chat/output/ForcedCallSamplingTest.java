package io.sluice.chat.output;

import com.fasterxml.jackson.databind.JsonNode;
import io.sluice.grammar.Grammar;
import io.sluice.grammar.GrammarException;
import io.sluice.grammar.GrammarMatcher;
import io.sluice.grammar.JsonValidator;
import io.sluice.grammar.TokenGrammar;
import io.sluice.grammar.TokenVocabulary;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Forced calls (tool_choice required / named) sampled from each format's grammar by random walks over
 * a byte-level vocabulary: every answer must parse back into calls only, of offered functions, whose
 * arguments the independent JSON Schema validator accepts.
 */
class ForcedCallSamplingTest {
    static final JsonNode ORDER = ToolFormatsTest.parse("""
            {"type": "object", "properties": {
               "item": {"type": "string", "description": "what to order"},
               "qty": {"type": "integer", "minimum": 1, "maximum": 9},
               "size": {"$ref": "#/$defs/size"},
               "gift": {"type": "boolean"},
               "tags": {"type": "array", "items": {"enum": ["red", "blue"]}, "maxItems": 3},
               "address": {"type": "object", "properties": {"zip": {"type": "string", "pattern": "^[0-9]{5}$"}}, "required": ["zip"],
                           "additionalProperties": false},
               "note": {"type": ["string", "null"], "maxLength": 12}},
             "required": ["item", "qty", "size"], "additionalProperties": false,
             "$defs": {"size": {"enum": ["S", "M", "L"]}}}""");
    static final JsonNode CANCEL = ToolFormatsTest.parse("""
            {"type": "object", "properties": {"id": {"type": "integer"}, "reason": {"type": "string"}}, "required": ["id", "reason"]}""");
    static final List<ToolFormat.Tool> TOOLS = List.of(new ToolFormat.Tool("order", ORDER), new ToolFormat.Tool("cancel", CANCEL));
    static final Map<String, JsonNode> SCHEMAS = Map.of("order", ORDER, "cancel", CANCEL);

    /** Every printable ASCII byte and newline, the formats' markers and value endings whole, and the end token (last). */
    static List<byte[]> vocabulary() {
        List<byte[]> toks = new ArrayList<>();
        toks.add(new byte[]{'\n'});
        for (int b = 0x20; b < 0x7f; b++) toks.add(new byte[]{(byte) b});
        for (String s : new String[]{"<tool_call>", "</tool_call>", "[TOOL_CALLS]", "<|tool_call|>", "<function=", "</function>", "<parameter=", "\n</parameter>\n", "</parameter>",
                ">>>", "order", "cancel", "<|START_ACTION|>", "<|END_ACTION|>", "\"tool_call_id\": \"", "\"tool_name\": ", "\"parameters\": ",
                "\": ", ", \"", "\"}", "}]", "null", "true", "false", "é", "日本"}) {
            toks.add(s.getBytes(StandardCharsets.UTF_8));
        }
        toks.add(new byte[0]);
        return toks;
    }

    /** toks as a grammar vocabulary, the last one ending the generation. */
    static TokenVocabulary tokenVocabulary(List<byte[]> toks) {
        BitSet eog = new BitSet();
        eog.set(toks.size() - 1);
        return TokenVocabulary.of(toks.toArray(new byte[0][]), eog);
    }

    /** A random walk until the grammar ends; half the time the longest allowed token, so values stay short. */
    static String sample(TokenGrammar tg, List<byte[]> toks, SplittableRandom rng) {
        return sample(tg.newMatcher(), toks, rng, new ByteArrayOutputStream());
    }

    /** {@link #sample(TokenGrammar, List, SplittableRandom)} going on from m, whose text so far is out. */
    static String sample(GrammarMatcher m, List<byte[]> toks, SplittableRandom rng, ByteArrayOutputStream out) {
        int eos = toks.size() - 1;
        long[] mask = new long[m.grammar().maskWords()];
        for (int step = 0; step < 4000; step++) {
            if (m.isTerminated()) break;
            m.fillMask(mask);
            List<Integer> allowed = new ArrayList<>();
            for (int t = 0; t < toks.size(); t++) if ((mask[t >>> 6] & (1L << t)) != 0) allowed.add(t);
            if (allowed.isEmpty()) fail("no token allowed after '" + out.toString(StandardCharsets.UTF_8) + "'");
            int pick;
            if (allowed.contains(eos) && rng.nextBoolean()) {
                pick = eos;
            } else if (rng.nextInt(3) == 0) {
                pick = allowed.getFirst();
                for (int t : allowed) if (toks.get(t).length > toks.get(pick).length) pick = t;
            } else {
                pick = allowed.get(rng.nextInt(allowed.size()));
            }
            assertTrue(m.accept(pick));
            if (pick == eos) break;
            out.writeBytes(toks.get(pick));
        }
        assertTrue(m.canEnd() || m.isTerminated(), "the walk ended in a complete answer: " + out.toString(StandardCharsets.UTF_8));
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void everySampledForcedCallParsesAndValidates() {
        List<byte[]> toks = vocabulary();
        TokenVocabulary vocab = tokenVocabulary(toks);
        SplittableRandom rng = new SplittableRandom(11);
        for (ToolFormat f : List.of(ToolFormats.QWEN3_CODER, ToolFormats.FUNCTIONARY_V3_2, ToolFormats.FUNCTIONARY_V3_1, ToolFormats.COMMAND_R7B)) {
            int calls = 0, orders = 0;
            for (boolean parallel : new boolean[]{false, true}) {
                for (List<ToolFormat.Tool> offered : List.of(TOOLS, TOOLS.subList(0, 1))) { // required, and a named function
                    Grammar g = Grammar.parseGbnf(f.grammar(offered, parallel, false, false, ToolGrammar::lit));
                    TokenGrammar tg = TokenGrammar.compile(g, vocab);
                    for (int k = 0; k < 12; k++) {
                        String text = sample(tg, toks, rng);
                        OutputParser p = f.parser(TOOLS, false, false, IdSource.counting());
                        ChatOutput out = new ChatOutput();
                        out.addAll(p.push(text));
                        out.addAll(p.finish());
                        String what = f.name() + (parallel ? " parallel" : "") + ":\n" + text;
                        assertFalse(out.calls().isEmpty(), what);
                        assertTrue(out.content() == null || out.content().isBlank(), what + "\ncontent: " + out.content());
                        if (!parallel) assertEquals(1, out.calls().size(), what);
                        for (OutputDelta.Call c : out.calls()) {
                            assertTrue(offered.stream().anyMatch(t -> t.name().equals(c.name())), what);
                            List<String> errors = JsonValidator.errors(SCHEMAS.get(c.name()), c.arguments());
                            assertTrue(errors.isEmpty(), what + "\narguments " + c.arguments() + " -> " + errors);
                            calls++;
                            if (c.name().equals("order")) orders++;
                        }
                    }
                }
            }
            assertTrue(calls >= 48 && orders >= 24, f.name() + ": " + calls + " calls, " + orders + " orders");
        }
    }

    /**
     * tool_choice auto: a free answer of random words, the marker, then a random walk. The marker must be
     * allowed after any text, and what follows it must parse back as the words and one valid call.
     */
    @Test
    void autoAnswersThatOpenACallParseAndValidate() {
        List<byte[]> toks = vocabulary();
        TokenVocabulary vocab = tokenVocabulary(toks);
        SplittableRandom rng = new SplittableRandom(5);
        String words = "abcdefghij <>[]|.";
        Map<ToolFormat, String> markers = Map.of(ToolFormats.HERMES, "<tool_call>", ToolFormats.QWEN3_CODER, "<tool_call>",
                ToolFormats.MISTRAL, "[TOOL_CALLS]", ToolFormats.GRANITE, "<|tool_call|>");
        for (Map.Entry<ToolFormat, String> e : markers.entrySet()) {
            ToolFormat f = e.getKey();
            TokenGrammar tg = TokenGrammar.compile(Grammar.parseGbnf(f.grammar(TOOLS, false, true, false, ToolGrammar::lit)), vocab);
            int marker = -1;
            for (int t = 0; t < toks.size(); t++) if (new String(toks.get(t), StandardCharsets.UTF_8).equals(e.getValue())) marker = t;
            for (int k = 0; k < 16; k++) {
                GrammarMatcher m = tg.newMatcher();
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                for (int i = rng.nextInt(12); i > 0; i--) {
                    byte b = (byte) words.charAt(rng.nextInt(words.length()));
                    int tok = toks.indexOf(toks.stream().filter(x -> x.length == 1 && x[0] == b).findFirst().orElseThrow());
                    assertTrue(m.accept(tok), f.name() + ": free text '" + out + "' then '" + (char) b + "'");
                    out.write(b);
                }
                String free = out.toString(StandardCharsets.UTF_8);
                assertTrue(m.canEnd(), f.name() + ": a free answer may end: '" + free + "'");
                assertTrue(m.accept(marker), f.name() + ": the marker after '" + free + "'");
                out.writeBytes(toks.get(marker));
                String text = sample(m, toks, rng, out);
                OutputParser p = f.parser(TOOLS, false, false, IdSource.counting());
                ChatOutput parsed = new ChatOutput();
                parsed.addAll(p.push(text));
                parsed.addAll(p.finish());
                String what = f.name() + ":\n" + text;
                assertEquals(1, parsed.calls().size(), what);
                assertEquals(free.strip(), parsed.content() == null ? "" : parsed.content().strip(), what);
                OutputDelta.Call c = parsed.calls().getFirst();
                List<String> errors = JsonValidator.errors(SCHEMAS.get(c.name()), c.arguments());
                assertTrue(errors.isEmpty(), what + "\narguments " + c.arguments() + " -> " + errors);
            }
        }
    }

    @Test
    void qwenRawTextNeverHoldsTheValueEnd() {
        // the raw-text rule: any text without </parameter>, so a value ends where the parser looks
        String g = "root ::= sluice-raw\n" + String.join("\n", QwenXmlFormat.rawText()) + "\n";
        for (String ok : List.of("", "plain", "a < b", "</param", "<//parameter>", "x</parameter", "<p>\n</p>", "<<</parametex>", "\n\n")) {
            assertTrue(ToolFormatsTest.matches(g, ok), ok);
        }
        for (String bad : List.of("</parameter>", "a</parameter>b", "<</parameter>", "x\n</parameter>\n")) assertFalse(ToolFormatsTest.matches(g, bad), bad);
        // string constraints a raw value cannot carry are refused, naming the keyword
        GrammarException e = assertThrows(GrammarException.class, () -> ToolFormats.QWEN3_CODER.grammar(
                List.of(new ToolFormat.Tool("f", ToolFormatsTest.parse("{\"type\": \"object\", \"properties\": {\"s\": {\"type\": \"string\", \"pattern\": \"^a$\"}}}"))),
                false, false, false, ToolGrammar::lit));
        assertTrue(e.getMessage().contains("'pattern' at #/properties/s"), e.getMessage());
    }
}
