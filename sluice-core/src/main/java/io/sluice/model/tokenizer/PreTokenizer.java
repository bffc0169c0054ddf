package io.sluice.model.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits text into the words byte-level BPE merges within, selected by {@code tokenizer.ggml.pre}.
 *
 * <p>Each pre-tokenizer is a list of steps applied one after the other, each refining the
 * segments of the previous one (a segment is cut into its matches and the gaps between them), as
 * llama.cpp's {@code unicode_regex_split} does. Two patterns (GPT-2's and Llama 3's) are hand-coded
 * scanners there, with small quirks of their own, so they are scanners here too; every other pattern
 * runs through {@link java.util.regex} on the same "collapsed" text llama.cpp feeds std::regex: a
 * code point outside ASCII becomes one stand-in character per Unicode category, so that
 * {@code \p{L}} and friends mean exactly what they mean there.
 */
final class PreTokenizer {

    /** How a {@code tokenizer.ggml.pre} name configures the BPE tokenizer, beside its split steps. */
    record Config(String name, List<Step> steps, boolean cleanSpaces, boolean ignoreMerges, boolean addBos, boolean noBos) {
    }

    /** One split pass: refines segment lengths (in code points) over {@code cps}. */
    interface Step {
        IntList split(int[] cps, IntList segments);
    }

    // The patterns, written as llama.cpp (and the models' tokenizer.json files) state them.
    private static final String P_DEFAULT_PUNCT = "[\\p{P}\\$\\+<=>\\^~\\|]+";
    private static final String P_FALCON_PUNCT = "[\\p{P}\\$\\+<=>\\^~\\|`]+";
    private static final String P_QWEN2 = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String P_PORO = " ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{FF0C}\\x{3001}\\x{0964}\\x{06D4}\\x{060C})]+";
    private static final String P_TEKKEN = "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String P_GPT4O = "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String P_DEEPSEEK3_PUNCT = "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    // DeepSeek LLM's "cased letter" class (Lu/Ll/Lt as its tokenizer.json lists them), as code point ranges.
    private static final String DEEPSEEK_LETTERS = "A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}"
            + "\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}"
            + "\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}"
            + "\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}"
            + "\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}"
            + "\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}"
            + "\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}"
            + "\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}"
            + "\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}"
            + "\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}"
            + "\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}"
            + "\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}"
            + "\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}";
    private static final String P_DEEPSEEK_PUNCT = "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+";
    private static final String P_DEEPSEEK_CJK = "[\\x{4E00}-\\x{9FA5}\\x{0800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+";
    private static final String P_CJK_KANA = "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+";

    static final Step GPT2 = PreTokenizer::splitGpt2;
    static final Step LLAMA3 = PreTokenizer::splitLlama3;

    /** The configuration for a {@code tokenizer.ggml.pre} value; a clear error for names not implemented. */
    static Config forName(String pre) {
        String name = pre == null || pre.isEmpty() ? "default" : pre;
        return switch (name) {
            case "default" -> cfg(name, true, false, false, regex(P_DEFAULT_PUNCT), GPT2, regex("\\p{N}+"), regex("[0-9][0-9][0-9]"));
            case "llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral" -> cfg(name, true, true, true, LLAMA3);
            case "dbrx", "smaug-bpe" -> cfg(name, true, false, false, LLAMA3);
            case "chatglm-bpe", "glm4" -> new Config(name, List.of(LLAMA3), true, false, false, true);
            case "deepseek-llm" -> cfg(name, false, false, false, regex("[\\r\\n]"), regex("\\s?[" + DEEPSEEK_LETTERS + "]+"),
                    regex(P_DEEPSEEK_PUNCT), regex("\\s+$"), regex(P_DEEPSEEK_CJK), regex("\\p{N}+"));
            case "deepseek-coder" -> cfg(name, false, false, false, regex("[\\r\\n]"), regex("\\s?\\p{L}+"), regex("\\s?\\p{P}+"),
                    regex(P_DEEPSEEK_CJK), regex("\\p{N}"));
            case "deepseek-v3" -> cfg(name, false, false, false, regex("\\p{N}{1,3}"), regex(P_CJK_KANA), regex(P_DEEPSEEK3_PUNCT));
            case "falcon" -> cfg(name, true, false, false, regex(P_FALCON_PUNCT), GPT2, regex("[0-9][0-9][0-9]"));
            case "starcoder", "refact", "codeshell", "exaone", "minerva-7b" -> cfg(name, true, false, false, regex("\\p{N}"), GPT2);
            case "command-r", "smollm" -> cfg(name, false, false, false, regex("\\p{N}"), GPT2);
            case "gpt-2", "phi-2", "jina-es", "jina-de", "jina-v2-es", "jina-v2-de", "jina-v1-en", "jina-v2-code",
                 "roberta-bpe", "mpt", "olmo", "jais", "gigachat", "exaone4" -> cfg(name, true, false, false, GPT2);
            case "qwen2", "deepseek-r1-qwen" -> cfg(name, false, false, false, regex(P_QWEN2));
            case "stablelm2", "megrez" -> cfg(name, true, false, false, regex(P_QWEN2));
            case "poro-chat" -> cfg(name, false, false, false, regex(P_PORO));
            case "bloom", "gpt3-finnish" -> cfg(name, true, false, false, regex(P_PORO));
            case "viking" -> cfg(name, false, false, false, regex(P_PORO), regex("\\p{N}"));
            case "tekken" -> cfg(name, false, true, true, regex(P_TEKKEN));
            case "gpt-4o", "llama4" -> cfg(name, false, false, false, regex(P_GPT4O));
            default -> throw new IllegalArgumentException("unsupported BPE pre-tokenizer '" + pre + "' (tokenizer.ggml.pre); "
                    + "supported: default, llama3/llama-bpe, dbrx, smaug-bpe, qwen2, gpt-2, falcon, deepseek-llm, deepseek-coder, "
                    + "deepseek-v3, starcoder, refact, mpt, olmo, command-r, smollm, stablelm2, poro-chat, bloom, viking, "
                    + "tekken, gpt-4o, chatglm-bpe and their aliases");
        };
    }

    private static Config cfg(String name, boolean cleanSpaces, boolean ignoreMerges, boolean addBos, Step... steps) {
        return new Config(name, List.of(steps), cleanSpaces, ignoreMerges, addBos, false);
    }

    /** Splits {@code text} into words (plain text, not yet byte-encoded). */
    static List<String> split(Config config, String text) {
        int[] cps = Unicode.codePoints(text);
        IntList segments = new IntList();
        if (cps.length > 0) segments.add(cps.length);
        for (Step step : config.steps()) segments = step.split(cps, segments);
        List<String> words = new ArrayList<>(segments.size());
        int start = 0;
        for (int i = 0; i < segments.size(); i++) {
            int len = segments.get(i);
            if (len > 0) words.add(new String(cps, start, len));
            start += len;
        }
        return words;
    }

    // ---- hand-coded scanners ----

    /** Emits segment ends: lengths from the previous end, skipping empty ones. */
    private static final class Emitter {
        final IntList out;
        int prevEnd;

        Emitter(IntList out, int start) {
            this.out = out;
            this.prevEnd = start;
        }

        int emit(int end) {
            int len = end - prevEnd;
            if (len > 0) out.add(len);
            prevEnd = end;
            return end;
        }
    }

    /** GPT-2's pattern {@code 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+}. */
    private static IntList splitGpt2(int[] cps, IntList segments) {
        IntList out = new IntList();
        int start = 0;
        for (int s = 0; s < segments.size(); s++) {
            int from = start, to = start + segments.get(s);
            start = to;
            Emitter e = new Emitter(out, from);
            int pos = from;
            while (pos < to) {
                int c = cps[pos];
                int contraction = contractionLength(cps, pos, to, false);
                if (contraction > 0) {
                    pos = e.emit(pos + contraction);
                    continue;
                }
                // An optional single leading space, then a run of letters, of digits, or of other non-space.
                int look = c == ' ' ? pos + 1 : pos;
                if (look < to) {
                    int cat = Unicode.category(cps[look]);
                    boolean ws = Unicode.isWhitespace(cps[look]);
                    if (cat == Unicode.LETTER || cat == Unicode.NUMBER || !ws) {
                        pos = look;
                        while (pos < to && sameRunClass(cps[pos], cat)) pos++;
                        e.emit(pos);
                        continue;
                    }
                }
                pos = e.emit(whitespaceRunEnd(cps, pos, to, false));
            }
        }
        return out;
    }

    /** For GPT-2 runs: letters continue letters, numbers numbers, anything else non-space/letter/number the third class. */
    private static boolean sameRunClass(int cp, int runCategory) {
        int cat = Unicode.category(cp);
        if (runCategory == Unicode.LETTER || runCategory == Unicode.NUMBER) return cat == runCategory;
        return cat != Unicode.LETTER && cat != Unicode.NUMBER && !Unicode.isWhitespace(cp);
    }

    /**
     * Where the whitespace match starting at {@code pos} ends: {@code \s+(?!\S)} keeps the last space
     * for the next word when one follows; llama3 first tries {@code \s*[\r\n]+}. No whitespace at all
     * makes a one-code-point segment (llama.cpp's "no match").
     */
    private static int whitespaceRunEnd(int[] cps, int pos, int to, boolean newlineRule) {
        int n = 0;
        int lastNewlineEnd = -1;
        while (pos + n < to && Unicode.isWhitespace(cps[pos + n])) {
            if (cps[pos + n] == '\r' || cps[pos + n] == '\n') lastNewlineEnd = pos + n + 1;
            n++;
        }
        if (newlineRule && lastNewlineEnd > 0) return lastNewlineEnd;
        if (n > 1 && pos + n < to) return pos + n - 1;
        if (n > 0) return pos + n;
        return pos + 1;
    }

    /** Length of {@code 's 't 're 've 'm 'll 'd} at {@code pos} (any case when {@code anyCase}), or 0. */
    private static int contractionLength(int[] cps, int pos, int to, boolean anyCase) {
        if (cps[pos] != '\'' || pos + 1 >= to) return 0;
        int a = anyCase ? Unicode.toLower(cps[pos + 1]) : cps[pos + 1];
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
        if (pos + 2 < to) {
            int b = anyCase ? Unicode.toLower(cps[pos + 2]) : cps[pos + 2];
            if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
        }
        return 0;
    }

    /**
     * Llama 3's pattern {@code (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+}.
     */
    private static IntList splitLlama3(int[] cps, IntList segments) {
        IntList out = new IntList();
        int start = 0;
        for (int s = 0; s < segments.size(); s++) {
            int from = start, to = start + segments.get(s);
            start = to;
            Emitter e = new Emitter(out, from);
            int pos = from;
            while (pos < to) {
                int c = cps[pos];
                int contraction = contractionLength(cps, pos, to, true);
                if (contraction > 0) {
                    pos = e.emit(pos + contraction);
                    continue;
                }
                int cat = Unicode.category(c);
                // One optional non-letter/non-digit/non-newline, then letters.
                if (c != '\r' && c != '\n' && cat != Unicode.NUMBER
                        && (cat == Unicode.LETTER || (pos + 1 < to && Unicode.isLetter(cps[pos + 1])))) {
                    pos++;
                    while (pos < to && Unicode.isLetter(cps[pos])) pos++;
                    e.emit(pos);
                    continue;
                }
                // Digits in groups of at most three.
                if (cat == Unicode.NUMBER) {
                    int groupStart = pos;
                    while (pos < to && Unicode.isNumber(cps[pos])) {
                        pos++;
                        if (pos - groupStart >= 3) {
                            e.emit(pos);
                            groupStart = pos;
                        }
                    }
                    e.emit(pos);
                    continue;
                }
                // An optional space, a run of other symbols, then any newlines.
                int look = c == ' ' ? pos + 1 : pos;
                boolean other = look >= to || isOther(cps[look]);
                if (other) {
                    pos = look;
                    while (pos < to && isOther(cps[pos])) pos++;
                    while (pos < to && (cps[pos] == '\r' || cps[pos] == '\n')) pos++;
                    e.emit(pos);
                    continue;
                }
                pos = e.emit(whitespaceRunEnd(cps, pos, to, true));
            }
        }
        return out;
    }

    private static boolean isOther(int cp) {
        int cat = Unicode.category(cp);
        return cat != Unicode.LETTER && cat != Unicode.NUMBER && !Unicode.isWhitespace(cp);
    }

    // ---- regular expressions on collapsed text ----

    private static final int[] CATEGORY_STANDIN = new int[65];

    static {
        CATEGORY_STANDIN[Unicode.NUMBER] = 0xD1;
        CATEGORY_STANDIN[Unicode.LETTER] = 0xD2;
        CATEGORY_STANDIN[Unicode.PUNCTUATION] = 0xD3;
        CATEGORY_STANDIN[Unicode.MARK] = 0xD4;
        CATEGORY_STANDIN[Unicode.SYMBOL] = 0xD5;
        CATEGORY_STANDIN[Unicode.SEPARATOR] = 0xD0;
        CATEGORY_STANDIN[Unicode.CONTROL] = 0xD0;
    }

    /** What each supported {@code \p{..}} becomes: its stand-in character plus the ASCII members, as llama.cpp maps them. */
    private static String collapsedClass(String property) {
        return switch (property) {
            case "N" -> "\\x{D1}0-9";
            case "L", "Lu", "Ll", "Lt", "Lm", "Lo" -> "\\x{D2}A-Za-z";
            // ASCII punctuation: !"# %&'()* ,-./ :; ?@ [\] _ { }
            case "P" -> "\\x{D3}\\x21-\\x23\\x25-\\x2A\\x2C-\\x2F\\x3A-\\x3B\\x3F-\\x40\\x5B-\\x5D\\x5F\\x7B\\x7D";
            case "M" -> "\\x{D4}";
            // ASCII symbols as llama.cpp lists them: $ + < = > ^ ` |   (it leaves '~' out)
            case "S" -> "\\x{D5}\\x24\\x2B\\x3C-\\x3E\\x5E\\x60\\x7C";
            default -> null;
        };
    }

    static Step regex(String expr) {
        return new RegexStep(expr);
    }

    private static final class RegexStep implements Step {
        final Pattern pattern;
        final boolean collapsed;
        final String source;

        RegexStep(String expr) {
            this.source = expr;
            StringBuilder sb = new StringBuilder();
            boolean usesCategories = false;
            boolean inClass = false;
            for (int i = 0; i < expr.length(); i++) {
                char ch = expr.charAt(i);
                if (ch == '\\' && i + 1 < expr.length()) {
                    if (expr.charAt(i + 1) == 'p' && i + 2 < expr.length() && expr.charAt(i + 2) == '{') {
                        int close = expr.indexOf('}', i + 3);
                        String cls = close < 0 ? null : collapsedClass(expr.substring(i + 3, close));
                        if (cls == null) throw new IllegalArgumentException("unsupported property in pre-tokenizer pattern: " + expr);
                        sb.append(inClass ? cls : "[" + cls + "]");
                        usesCategories = true;
                        i = close;
                        continue;
                    }
                    sb.append(ch).append(expr.charAt(++i)); // any other escape passes through whole
                    continue;
                }
                if (ch == '[' && !inClass) inClass = true;
                else if (ch == ']' && inClass) inClass = false;
                else if (ch == '$' && !inClass) { // ECMAScript '$' is only the very end, never "before a final newline"
                    sb.append("\\z");
                    continue;
                }
                sb.append(ch);
            }
            this.collapsed = usesCategories;
            this.pattern = Pattern.compile(sb.toString());
        }

        @Override
        public IntList split(int[] cps, IntList segments) {
            // Subject text: one char per code point when collapsed; otherwise the code points themselves,
            // with non-ASCII whitespace as \u000B as llama.cpp does (std::regex's \s knows only ASCII).
            StringBuilder subject = new StringBuilder(cps.length);
            int[] charPos = new int[cps.length + 1];
            for (int i = 0; i < cps.length; i++) {
                charPos[i] = subject.length();
                int cp = cps[i];
                if (cp < 0x80) subject.append((char) cp);
                else if (Unicode.isWhitespace(cp)) subject.append('\u000B');
                else if (collapsed) subject.append((char) CATEGORY_STANDIN[Unicode.category(cp)]);
                else subject.appendCodePoint(cp);
            }
            charPos[cps.length] = subject.length();
            Matcher m = pattern.matcher(subject);
            IntList out = new IntList();
            int start = 0;
            for (int s = 0; s < segments.size(); s++) {
                int from = start, to = start + segments.get(s);
                start = to;
                m.region(charPos[from], charPos[to]);
                int prev = from;
                while (m.find()) {
                    int ms = cpIndex(charPos, from, to, m.start());
                    int me = cpIndex(charPos, from, to, m.end());
                    if (ms > prev) out.add(ms - prev);
                    if (me > ms) out.add(me - ms);
                    prev = Math.max(prev, me);
                }
                if (prev < to) out.add(to - prev);
            }
            return out;
        }

        private static int cpIndex(int[] charPos, int from, int to, int charIndex) {
            int lo = from, hi = to;
            while (lo < hi) {
                int mid = (lo + hi) >>> 1;
                if (charPos[mid] < charIndex) lo = mid + 1;
                else hi = mid;
            }
            return lo;
        }

        @Override
        public String toString() {
            return "regex(" + source + ")";
        }
    }
}
