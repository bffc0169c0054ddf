package io.sluice.grammar;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every bit of every mask, along random generations, equals what an independent Earley recognizer
 * says about the text so far plus that token; end-of-generation exactly where the text is a sentence.
 */
class GrammarMaskTest {

    static final String JSON = """
            root   ::= object
            value  ::= object | array | string | number | ("true" | "false" | "null") ws
            object ::= "{" ws ( string ":" ws value ("," ws string ":" ws value)* )? "}" ws
            array  ::= "[" ws ( value ("," ws value)* )? "]" ws
            string ::= "\\"" ( [^"\\\\\\x7F\\x00-\\x1F] | "\\\\" (["\\\\/bfnrt] | "u" [0-9a-fA-F]{4}) )* "\\"" ws
            number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9]+)? ws
            ws ::= | " " | "\\n" [ \\t]{0,20}
            """;

    static final List<String> GRAMMARS = List.of(
            JSON,
            // arithmetic, recursive with calls everywhere
            """
            root  ::= (expr "=" ws term "\\n")+
            expr  ::= term ([-+*/] term)*
            term  ::= ident | num | "(" ws expr ")" ws
            ident ::= [a-z] [a-z0-9_]* ws
            num   ::= [0-9]+ ws
            ws    ::= [ \\t\\n]*
            """,
            // lists of lines with any characters, including multi-byte
            "root ::= (\"- \" item)+\nitem ::= [^\\n]+ \"\\n\"\n",
            // Japanese-ish and emoji classes, repetition bounds
            "root ::= [ぁ-ゟ]{1,3} (\"、\" [一-鿿]+)* \"😀\"?\n",
            // nested optional and nullable recursion (right recursion through an empty rule)
            "root ::= a b \"!\"\na ::= \"x\" a | \"\"\nb ::= (\"y\" | \"yy\")? c\nc ::= | \"c\" c\n",
            // alternatives sharing prefixes across rule boundaries
            "root ::= (kv \",\" )* kv\nkv ::= key \":\" val\nkey ::= \"\\\"\" [a-c]{1,4} \"\\\"\"\nval ::= \"1\" | \"12\" | \"\\\"a\\\"\" | root2\nroot2 ::= \"{\" kv? \"}\"\n",
            // any character
            "root ::= \"<\" .{0,5} \">\"\n"
    );

    /** A vocabulary with every single byte (so characters can be split), pieces spanning JSON boundaries, multi-byte text, a control and an end token. */
    static TokenVocabulary testVocab(List<byte[]> out) {
        List<byte[]> toks = new ArrayList<>();
        for (int b = 0; b < 256; b++) toks.add(new byte[]{(byte) b});
        for (String s : new String[]{"{", "}", "[", "]", "\":", "\",", "\"}", "\"]", "},", "}]", "{\"", "[\"", "\", \"", "\": \"",
                "true", "false", "null", "nu", "ll", "tr", "ue", "-1", "0.", ".5", "e+", "12", "123", "abc", "a\"", "\\\\", "\\n",
                "\\u", "00", "ff", " {", "\n  ", "  ", ", ", "x=", "ab", "ba", "- ", "-", "item", "\n- ", "é", "日本", "ü\"",
                "ぁぃ", "、一", "😀", "xy", "yy", "yc", "cc!", "\"a\"", "1,", "12\"", "\"ab\":", "{\"a", "}}", "<a", "b>", "<>",
                "ident", "(x", "+1", "=", " = ", "\n\n", "é\"", "\"é"}) {
            toks.add(s.getBytes(StandardCharsets.UTF_8));
        }
        byte[] ri = "日".getBytes(StandardCharsets.UTF_8);
        toks.add(Arrays.copyOf(ri, 2)); // the first two bytes of a three-byte character
        toks.add(new byte[]{ri[2], '"'});  // its last byte and a quote
        byte[] emoji = "😀".getBytes(StandardCharsets.UTF_8);
        toks.add(Arrays.copyOf(emoji, 3));
        toks.add(new byte[0]); // a control token: no text
        toks.add(new byte[0]); // the end-of-generation token
        BitSet eog = new BitSet();
        eog.set(toks.size() - 1);
        out.addAll(toks);
        return TokenVocabulary.of(toks.toArray(new byte[0][]), eog);
    }

    @Test
    void masksAgreeWithAnEarleyRecognizerAlongRandomGenerations() {
        List<byte[]> toks = new ArrayList<>();
        TokenVocabulary v = testVocab(toks);
        int eos = toks.size() - 1;
        SplittableRandom rng = new SplittableRandom(7);
        for (String src : GRAMMARS) {
            Grammar g = Grammar.parseGbnf(src);
            TokenGrammar tg = TokenGrammar.compile(g, v);
            EarleyOracle oracle = new EarleyOracle(g);
            for (int run = 0; run < 6; run++) {
                checkRandomWalk(tg, oracle, toks, eos, rng, 40, src);
            }
        }
    }

    /** Walks the grammar with random allowed tokens, checking each whole mask against the oracle. */
    static void checkRandomWalk(TokenGrammar tg, EarleyOracle oracle, List<byte[]> toks, int eos, SplittableRandom rng, int steps, String what) {
        GrammarMatcher m = tg.newMatcher();
        long[] mask = new long[tg.maskWords()];
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        for (int step = 0; step < steps; step++) {
            m.fillMask(mask);
            byte[] sofar = text.toByteArray();
            // The oracle's chart for the complete characters so far; tokens extend the pending tail.
            int done = EarleyOracle.completeLength(sofar);
            EarleyOracle.Chart chart = oracle.run(oracle.start(), sofar, done);
            byte[] tail = Arrays.copyOfRange(sofar, done, sofar.length);
            List<Integer> allowed = new ArrayList<>();
            for (int t = 0; t < toks.size(); t++) {
                boolean bit = (mask[t >>> 6] & (1L << t)) != 0;
                boolean expected;
                if (t == eos) expected = oracle.sentence(chart, tail);
                else if (toks.get(t).length == 0) expected = false;
                else {
                    byte[] next = Arrays.copyOf(tail, tail.length + toks.get(t).length);
                    System.arraycopy(toks.get(t), 0, next, tail.length, toks.get(t).length);
                    expected = oracle.viablePrefix(chart, next);
                }
                if (bit != expected) {
                    fail("grammar " + what.lines().findFirst().orElse("") + "...: after '" + new String(sofar, StandardCharsets.UTF_8)
                            + "' token " + t + " '" + new String(toks.get(t), StandardCharsets.UTF_8) + "' mask says " + bit + ", oracle " + expected);
                }
                if (bit != m.allows(t)) fail("allows() disagrees with the mask for token " + t + " after '" + new String(sofar, StandardCharsets.UTF_8) + "'");
                if (bit) allowed.add(t);
            }
            assertEquals(oracle.sentence(chart, tail), m.canEnd(), "canEnd after '" + new String(sofar, StandardCharsets.UTF_8) + "'");
            if (allowed.isEmpty()) {
                assertTrue(m.isTerminated() || !oracle.viablePrefix(sofar), "no token allowed though the text can go on: " + new String(sofar, StandardCharsets.UTF_8));
                return;
            }
            // Prefer continuing: end only sometimes.
            int pick = allowed.get(rng.nextInt(allowed.size()));
            if (pick == eos && allowed.size() > 1 && rng.nextInt(4) != 0) {
                while (pick == eos) pick = allowed.get(rng.nextInt(allowed.size()));
            }
            assertTrue(m.accept(pick));
            if (pick == eos) {
                assertTrue(m.isTerminated());
                m.fillMask(mask);
                for (long w : mask) assertEquals(0L, w, "nothing after the end");
                return;
            }
            text.writeBytes(toks.get(pick));
        }
    }

    @Test
    void rejectedTokensDoNotMoveTheMatcher() {
        List<byte[]> toks = new ArrayList<>();
        TokenVocabulary v = testVocab(toks);
        TokenGrammar tg = TokenGrammar.compile(Grammar.parseGbnf("root ::= \"ab\" \"c\"*\n"), v);
        GrammarMatcher m = tg.newMatcher();
        int b = 'b', ab = indexOf(toks, "ab"), eos = toks.size() - 1;
        assertFalse(m.accept(b));
        assertFalse(m.canEnd());
        assertFalse(m.allows(eos), "the grammar cannot end before 'ab'");
        assertTrue(m.accept(ab));
        assertTrue(m.canEnd());
        assertFalse(m.isTerminated(), "more c's may follow");
        assertTrue(m.allows(eos));
        assertTrue(m.accept('c'));
        assertTrue(m.accept(eos));
        assertTrue(m.isTerminated());
    }

    @Test
    void aGrammarWithNothingAfterItTerminates() {
        List<byte[]> toks = new ArrayList<>();
        TokenGrammar tg = TokenGrammar.compile(Grammar.parseGbnf("root ::= \"yes\" | \"no\"\n"), testVocab(toks));
        GrammarMatcher m = tg.newMatcher();
        for (byte c : "no".getBytes(StandardCharsets.UTF_8)) assertTrue(m.accept(c & 0xFF));
        assertTrue(m.isTerminated());
    }

    static int indexOf(List<byte[]> toks, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < toks.size(); i++) if (Arrays.equals(toks.get(i), b)) return i;
        throw new AssertionError("no token " + s);
    }
}
