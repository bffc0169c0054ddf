package io.sluice.grammar;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GbnfParserTest {

    static boolean matches(String gbnf, String text) {
        return new EarleyOracle(Grammar.parseGbnf(gbnf)).sentence(text.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void readsLlamaCppSyntax() {
        String g = """
                # a comment
                root ::= greeting ws ( name | "\\x41\\u00e9\\U0001F600" ) [!?]{1,2}   # trailing comment
                greeting ::= "hi" |
                    "hello"
                name ::= [A-Z] [a-z-]* ws
                ws ::= [ \\t\\n]*
                """;
        assertTrue(matches(g, "hello Bob!"));
        assertTrue(matches(g, "hi Aé😀?!"));
        assertTrue(matches(g, "hi Ann-marie ??"));
        assertFalse(matches(g, "hi bob!"), "names start upper case");
        assertFalse(matches(g, "hi Bob!!!"), "at most two marks");
        assertEquals(List.of("root", "greeting", "name", "ws"), List.copyOf(Grammar.parseGbnf(g).ruleNames()));
    }

    @Test
    void repetitionForms() {
        assertTrue(matches("root ::= \"a\"{3}\n", "aaa"));
        assertFalse(matches("root ::= \"a\"{3}\n", "aa"));
        assertTrue(matches("root ::= \"a\"{2,}\n", "aaaaa"));
        assertTrue(matches("root ::= (\"ab\" | \"c\"){0,2} \"d\"?\n", "abc"));
        assertFalse(matches("root ::= (\"ab\" | \"c\"){0,2}\n", "abcab"));
        assertTrue(matches("root ::= [^a-c\\]]+\n", "xyz-"));
        assertFalse(matches("root ::= [^a-c\\]]+\n", "x]"));
    }

    @Test
    void errorsSayWhereAndWhat() {
        for (String[] c : new String[][]{
                {"root ::= \"abc\n", "unterminated string"},
                {"root ::= foo\n", "undefined rule 'foo' (used at line 1, column 10)"},
                {"root ::= \"a\"\nroot ::= \"b\"\n", "defined twice"},
                {"root ::= [a-\n", "character range is reversed"},
                {"main ::= \"a\"\n", "no 'root' rule"},
                {"root ::= \"a\" \"\\q\"\n", "unknown escape"},
                {"root ::= \"a\"{5,2}\n", "max < min"},
                {"root ::= \"a\"{3000}\n", "too large"},
                {"root ::= ( \"a\" \n", "expecting ')'"},
                {"root := \"a\"\n", "expecting ::="},
                {"root ::= \"a\"\n  bad ::= \"b\" x y\n", "line 2"},
                {"root ::= \"\\uD800\"\n", "surrogate"}}) {
            GrammarException e = assertThrows(GrammarException.class, () -> Grammar.parseGbnf(c[0]), c[0]);
            assertTrue(e.getMessage().contains(c[1]), c[0] + " -> " + e.getMessage());
        }
    }

    @Test
    void leftRecursionIsRefusedWhenCompiled() {
        TokenVocabulary v = GrammarMaskTest.testVocab(new ArrayList<>());
        for (String g : List.of("root ::= root \"a\" | \"b\"\n", "root ::= x\nx ::= y? root \"a\" | \"c\"\ny ::= \"q\"\n")) {
            GrammarException e = assertThrows(GrammarException.class, () -> TokenGrammar.compile(Grammar.parseGbnf(g), v));
            assertTrue(e.getMessage().contains("left-recursive"), e.getMessage());
        }
        // Right recursion is fine.
        TokenGrammar.compile(Grammar.parseGbnf("root ::= \"a\" root | \"b\"\n"), v);
    }

    @Test
    void tokenTerminalsMatchWholeTokens() {
        List<byte[]> toks = new ArrayList<>();
        for (String s : new String[]{"<think>", "</think>", "a", "b", "<", "think", ">"}) toks.add(s.getBytes(StandardCharsets.UTF_8));
        toks.add(new byte[0]); // eos
        BitSet eog = new BitSet();
        eog.set(toks.size() - 1);
        TokenVocabulary v = TokenVocabulary.of(toks.toArray(new byte[0][]), eog);
        TokenGrammar tg = TokenGrammar.compile(Grammar.parseGbnf("root ::= <think> !</think>* <[1]> \"a\"\n"), v);
        GrammarMatcher m = tg.newMatcher();
        assertFalse(m.allows(4), "'<' as text is not the <think> token");
        assertTrue(m.accept(0));
        long[] mask = new long[tg.maskWords()];
        m.fillMask(mask);
        assertEquals(0b1111111L, mask[0], "every text token but </think> (by !</think>), </think> itself (by <[1]>), not the end token");
        assertTrue(m.accept(2));
        assertTrue(m.accept(6));
        assertTrue(m.accept(1));
        assertFalse(m.canEnd());
        assertTrue(m.accept(2));
        assertTrue(m.isTerminated());
        assertThrows(GrammarException.class, () -> TokenGrammar.compile(Grammar.parseGbnf("root ::= <nope>\n"), v));
        assertThrows(GrammarException.class, () -> TokenGrammar.compile(Grammar.parseGbnf("root ::= <[99]>\n"), v));
    }
}
