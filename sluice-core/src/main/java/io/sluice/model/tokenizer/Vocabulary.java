package io.sluice.model.tokenizer;

import io.sluice.gguf.GGUFFile;
import io.sluice.gguf.GGUFValue;
import io.sluice.gguf.GGUFValueType;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The token table shared by every tokenizer kind: token strings, scores, attributes, special ids and
 * the add-BOS/EOS flags, read from {@code tokenizer.ggml.*} metadata with llama.cpp's defaults and
 * its text-based fix-ups (end-of-generation tokens are found by their text, for instance), plus the
 * special-token partitioning every tokenizer runs first.
 */
final class Vocabulary {
    // Token attributes (a token may carry several).
    static final int UNKNOWN = 1, UNUSED = 1 << 1, NORMAL = 1 << 2, CONTROL = 1 << 3, USER_DEFINED = 1 << 4,
            BYTE = 1 << 5, LSTRIP = 1 << 7, RSTRIP = 1 << 8;

    enum Kind { SPM, BPE, WPM }

    final Kind kind;
    final String model;
    final String name;
    private final String[] text;
    private final float[] score;
    private final int[] attr;
    private final Map<String, Integer> ids;
    final int maxTokenBytes;

    int bos, eos, eot = -1, eom = -1, unk, sep, pad, mask = -1;
    int fimPre = -1, fimSuf = -1, fimMid = -1, fimPad = -1, fimRep = -1, fimSep = -1;
    boolean addBos, addEos, addSep, addSpacePrefix, cleanSpaces;
    private final BitSet eog = new BitSet();
    /** Control, user-defined and unknown tokens, longest text first: the partitioning order. */
    private final int[] specials;

    private static final List<String> EOT_TEXTS = List.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
            "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>", "<｜end▁of▁sentence｜>", "<end_of_utterance>");
    private static final Set<String> EOG_TEXTS = Set.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>",
            "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>");

    Vocabulary(GGUFFile f, Kind kind, PreTokenizer.Config pre) {
        this.kind = kind;
        this.model = f.getString("tokenizer.ggml.model", "");
        this.name = f.getString("general.name", "");
        String where = f.path() + ": ";

        GGUFValue tokens = f.require("tokenizer.ggml.tokens");
        if (!tokens.isArray() || tokens.elementType() != GGUFValueType.STRING) {
            throw new IllegalArgumentException(where + "tokenizer.ggml.tokens must be an array of strings, is " + tokens.type());
        }
        String[] t = tokens.asStringArray().clone();
        int n = t.length;
        if (n == 0) throw new IllegalArgumentException(where + "tokenizer.ggml.tokens is empty");
        this.text = t;
        this.score = readScores(f, where, n);
        this.attr = readAttributes(f, where, n);

        // Empty strings get a unique placeholder text; a duplicated text maps to its last id (as llama.cpp's map did).
        ids = HashMap.newHashMap(n);
        int maxLen = 0;
        for (int i = 0; i < n; i++) {
            if (text[i].isEmpty()) text[i] = "[EMPTY_" + i + "]";
            ids.put(text[i], i);
            maxLen = Math.max(maxLen, text[i].getBytes(StandardCharsets.UTF_8).length);
        }
        maxTokenBytes = maxLen;

        switch (kind) {
            case SPM -> { bos = 1; eos = 2; unk = 0; sep = -1; pad = -1; addSpacePrefix = true; addBos = true; }
            case WPM -> { bos = 101; eos = -1; unk = 100; sep = 102; pad = 0; mask = 103; addBos = true; addSep = true; cleanSpaces = true; }
            case BPE -> {
                bos = 11; eos = 11; unk = -1; sep = -1; pad = -1;
                cleanSpaces = pre.cleanSpaces();
                addBos = pre.addBos();
                if (pre.noBos()) bos = -1;
            }
        }
        addSpacePrefix = f.getBoolean("tokenizer.ggml.add_space_prefix", addSpacePrefix);

        bos = specialId(f, "tokenizer.ggml.bos_token_id", bos);
        if (kind == Kind.WPM) bos = specialId(f, "tokenizer.ggml.cls_token_id", bos);
        eos = specialId(f, "tokenizer.ggml.eos_token_id", eos);
        eot = specialId(f, "tokenizer.ggml.eot_token_id", eot);
        eom = specialId(f, "tokenizer.ggml.eom_token_id", eom);
        unk = specialId(f, "tokenizer.ggml.unknown_token_id", unk);
        sep = specialId(f, "tokenizer.ggml.seperator_token_id", sep); // sic: the GGUF key is spelled so
        pad = specialId(f, "tokenizer.ggml.padding_token_id", pad);
        mask = specialId(f, "tokenizer.ggml.mask_token_id", mask);
        fimPre = specialId(f, "tokenizer.ggml.fim_pre_token_id", specialId(f, "tokenizer.ggml.prefix_token_id", fimPre));
        fimSuf = specialId(f, "tokenizer.ggml.fim_suf_token_id", specialId(f, "tokenizer.ggml.suffix_token_id", fimSuf));
        fimMid = specialId(f, "tokenizer.ggml.fim_mid_token_id", specialId(f, "tokenizer.ggml.middle_token_id", fimMid));
        fimPad = specialId(f, "tokenizer.ggml.fim_pad_token_id", fimPad);
        fimRep = specialId(f, "tokenizer.ggml.fim_rep_token_id", fimRep);
        fimSep = specialId(f, "tokenizer.ggml.fim_sep_token_id", fimSep);

        addBos = f.getBoolean("tokenizer.ggml.add_bos_token", addBos);
        addEos = f.getBoolean("tokenizer.ggml.add_eos_token", addEos);
        addSep = f.getBoolean("tokenizer.ggml.add_sep_token", addSep);
        if (addBos && bos < 0) throw new IllegalArgumentException(where + "tokenizer.ggml.add_bos_token is true, but there is no BOS token");
        if (addEos && eos < 0) throw new IllegalArgumentException(where + "tokenizer.ggml.add_eos_token is true, but there is no EOS token");
        if (addSep && sep < 0) throw new IllegalArgumentException(where + "tokenizer.ggml.add_sep_token is true, but there is no SEP token");

        detectByText();
        specials = sortedSpecials();
        applyModelQuirks(f);
    }

    private int specialId(GGUFFile f, String key, int dflt) {
        if (dflt >= text.length) dflt = -1; // a default outside this vocabulary is no token at all
        GGUFValue v = f.get(key);
        if (v == null) return dflt;
        long id;
        try {
            id = v.asLong();
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(f.path() + ": metadata '" + key + "' must be a token id, is " + v.type());
        }
        // llama.cpp reads these as uint32 and keeps the default when the id is outside the vocabulary.
        return id >= 0 && id < text.length ? (int) id : dflt;
    }

    private static float[] readScores(GGUFFile f, String where, int n) {
        GGUFValue v = f.get("tokenizer.ggml.scores");
        float[] s = new float[n];
        if (v == null) return s;
        if (!v.isArray() || v.length() < n) throw new IllegalArgumentException(where + "tokenizer.ggml.scores must be an array of at least " + n + " numbers");
        switch (v.value()) {
            case float[] a -> System.arraycopy(a, 0, s, 0, n);
            case int[] a -> { for (int i = 0; i < n; i++) s[i] = a[i]; }
            default -> throw new IllegalArgumentException(where + "tokenizer.ggml.scores must be FLOAT32 or INT32, is " + v.elementType());
        }
        return s;
    }

    private static int[] readAttributes(GGUFFile f, String where, int n) {
        int[] a = new int[n];
        GGUFValue v = f.get("tokenizer.ggml.token_type");
        if (v == null) {
            java.util.Arrays.fill(a, NORMAL);
            return a;
        }
        int[] types;
        try {
            types = v.toIntArray();
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(where + "tokenizer.ggml.token_type must be an integer array, is " + v.type());
        }
        if (types.length < n) throw new IllegalArgumentException(where + "tokenizer.ggml.token_type has " + types.length + " entries for " + n + " tokens");
        for (int i = 0; i < n; i++) {
            a[i] = switch (types[i]) {
                case 1 -> NORMAL;
                case 2 -> UNKNOWN;
                case 3 -> CONTROL;
                case 4 -> USER_DEFINED;
                case 5 -> UNUSED;
                case 6 -> BYTE;
                default -> 0; // undefined: renders as nothing, never matched
            };
        }
        return a;
    }

    /** llama.cpp finds EOT/EOM/FIM and end-of-generation tokens by their text when metadata does not name them. */
    private void detectByText() {
        for (int id = 0; id < text.length; id++) {
            String s = text[id];
            if (eot < 0 && EOT_TEXTS.contains(s)) eot = markControl(id);
            if (eom < 0 && s.equals("<|eom_id|>")) eom = markControl(id);
            if (fimPre < 0 && (s.equals("<|fim_prefix|>") || s.equals("<fim-prefix>") || s.equals("<fim_prefix>")
                    || s.equals("<｜fim▁begin｜>") || s.equals("<PRE>") || s.equals("▁<PRE>"))) fimPre = markControl(id);
            if (fimSuf < 0 && (s.equals("<|fim_suffix|>") || s.equals("<fim-suffix>") || s.equals("<fim_suffix>")
                    || s.equals("<｜fim▁hole｜>") || s.equals("<SUF>") || s.equals("▁<SUF>"))) fimSuf = markControl(id);
            if (fimMid < 0 && (s.equals("<|fim_middle|>") || s.equals("<fim-middle>") || s.equals("<fim_middle>")
                    || s.equals("<｜fim▁end｜>") || s.equals("<MID>") || s.equals("▁<MID>"))) fimMid = markControl(id);
            if (fimPad < 0 && (s.equals("<|fim_pad|>") || s.equals("<fim-pad>") || s.equals("<fim_pad>") || s.equals("<PAD>"))) fimPad = markControl(id);
            if (fimRep < 0 && (s.equals("<|fim_repo|>") || s.equals("<|repo_name|>") || s.equals("<fim-repo>")
                    || s.equals("<REPO>") || s.equals("<reponame>"))) fimRep = markControl(id);
            if (fimSep < 0 && s.equals("<|file_sep|>")) fimSep = markControl(id);
        }
        // Control tokens named like "<unused12>" are unused.
        for (int id = 0; id < text.length; id++) {
            if ((attr[id] & CONTROL) != 0 && text[id].contains("unused")) attr[id] |= UNUSED;
        }
        for (int id : new int[]{fimPad, fimRep, fimSep, eos, eot, eom}) if (id >= 0) eog.set(id);
        for (int id = 0; id < text.length; id++) {
            if (EOG_TEXTS.contains(text[id])) eog.set(markControl(id));
        }
        // Harmony-style vocabularies end a message with <|end|> but keep generating; only <|return|>/<|call|> stop.
        int end = id("<|end|>"), ret = id("<|return|>"), call = id("<|call|>");
        if (end >= 0 && ret >= 0 && call >= 0 && eog.get(end) && eog.get(ret) && eog.get(call)) {
            eog.clear(end);
            attr[end] = USER_DEFINED;
        }
    }

    private int markControl(int id) {
        attr[id] |= CONTROL;
        return id;
    }

    private int[] sortedSpecials() {
        List<Integer> list = new ArrayList<>();
        for (int id = 0; id < text.length; id++) {
            if ((attr[id] & (CONTROL | USER_DEFINED | UNKNOWN)) != 0) list.add(id);
        }
        int[] byteLen = new int[text.length];
        for (int id : list) byteLen[id] = text[id].getBytes(StandardCharsets.UTF_8).length;
        list.sort(Comparator.comparingInt((Integer id) -> -byteLen[id]).thenComparingInt(id -> id));
        return list.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Per-model attribute fix-ups llama.cpp applies by name (the GGUF files do not carry them). */
    private void applyModelQuirks(GGUFFile f) {
        String lname = name.toLowerCase(Locale.ROOT);
        String pre = f.getString("tokenizer.ggml.pre", "");
        if (pre.contains("jina-v2-de") || pre.contains("jina-v2-es") || pre.contains("jina-v2-code")) {
            int m = id("<mask>");
            if (m >= 0) attr[m] |= LSTRIP;
        } else if (lname.contains("phi-3") || lname.contains("phi3")) {
            // Phi-3's chat tokens swallow the whitespace after them.
            for (int id : specials) attr[id] |= RSTRIP;
            int s = id("</s>");
            if (s >= 0) attr[s] |= RSTRIP;
            for (String tok : new String[]{"<unk>", "<s>", "<|endoftext|>"}) {
                int id = id(tok);
                if (id >= 0) attr[id] &= ~RSTRIP;
            }
        }
    }

    // ---- lookups ----

    int size() { return text.length; }

    String text(int id) { return text[check(id)]; }

    float score(int id) { return score[id]; }

    int attr(int id) { return attr[check(id)]; }

    boolean isEog(int id) { return id >= 0 && eog.get(id); }

    /** The id of a token whose text is exactly {@code s}, or -1. */
    int id(String s) {
        Integer id = ids.get(s);
        return id == null ? -1 : id;
    }

    int check(int id) {
        if (id < 0 || id >= text.length) throw new IllegalArgumentException("token id " + id + " is outside the vocabulary [0, " + text.length + ")");
        return id;
    }

    /** SentencePiece byte fallback: the {@code <0xXX>} token of byte {@code b} (or the byte's own one-character token). */
    int byteToken(int b) {
        int id = id(String.format("<0x%02X>", b & 0xFF));
        if (id < 0 && b < 0x80) id = id(String.valueOf((char) b));
        if (id < 0) id = unk;
        if (id < 0) throw new IllegalStateException("vocabulary has no token for byte 0x" + Integer.toHexString(b & 0xFF) + " and no unknown token");
        return id;
    }

    /**
     * The bytes token {@code id} contributes to decoded text. Control and unknown tokens give their
     * text only when {@code renderSpecial}; user-defined tokens always give theirs.
     */
    byte[] piece(int id, boolean renderSpecial) {
        int a = attr(id);
        if ((a & (UNKNOWN | CONTROL)) != 0) return renderSpecial ? utf8(text[id]) : new byte[0];
        if ((a & USER_DEFINED) != 0) return utf8(text[id]);
        if ((a & NORMAL) != 0) {
            return kind == Kind.BPE ? ByteLevel.decode(text[id]) : utf8(text[id].replace('\u2581', ' '));
        }
        if ((a & BYTE) != 0) {
            String s = text[id];
            if (kind != Kind.WPM && s.length() == 6 && s.startsWith("<0x") && s.endsWith(">")) {
                try {
                    return new byte[]{(byte) Integer.parseInt(s.substring(3, 5), 16)};
                } catch (NumberFormatException ignored) {
                    // not a byte token after all: falls through to nothing
                }
            }
            return new byte[0];
        }
        return new byte[0]; // unused / undefined tokens render as nothing
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    // ---- special-token partitioning ----

    /**
     * Cuts {@code text} at every occurrence of a special token's text, longest tokens first (llama.cpp's
     * tokenizer_st_partition). User-defined tokens are always recognised; control and unknown tokens
     * only when {@code parseSpecial}. A token with LSTRIP/RSTRIP also eats the whitespace before/after it.
     */
    List<Fragment> partition(String text, boolean parseSpecial) {
        return partition(text, parseSpecial, null);
    }

    /**
     * {@link #partition(String, boolean)} with special tokens parsed, except that an occurrence of a control
     * or unknown token counts only when none of its characters is in {@code untrusted} (sorted disjoint
     * {@code [start, end)} char ranges of {@code text}; null or empty: none): text there is tokenized as
     * parseSpecial=false would. With no untrusted ranges this is exactly partition(text, true).
     */
    List<Fragment> partition(String text, boolean parseSpecial, int[] untrusted) {
        List<Fragment> frags = new ArrayList<>();
        if (text.isEmpty()) return frags;
        if (untrusted != null && untrusted.length == 0) untrusted = null;
        frags.add(Fragment.text(text));
        List<Integer> starts = new ArrayList<>(); // where each fragment begins in text (tokens included, unused)
        starts.add(0);
        for (int id : specials) {
            int a = attr[id];
            boolean control = (a & (CONTROL | UNKNOWN)) != 0;
            if (!parseSpecial && control) continue;
            String tok = this.text[id];
            if (!text.contains(tok)) continue; // cheap filter: most specials never occur
            List<Fragment> next = new ArrayList<>(frags.size() + 2);
            List<Integer> nextStarts = new ArrayList<>(frags.size() + 2);
            for (int k = 0; k < frags.size(); k++) {
                Fragment fr = frags.get(k);
                int base = starts.get(k);
                if (!fr.isText()) {
                    next.add(fr);
                    nextStarts.add(base);
                    continue;
                }
                String s = fr.text();
                int from = 0, search = 0;
                while (true) {
                    int at = s.indexOf(tok, search);
                    if (at < 0) break;
                    if (control && untrusted != null && overlaps(untrusted, base + at, base + at + tok.length())) {
                        search = at + 1; // the user's text, not the template's: stays text
                        continue;
                    }
                    int leftEnd = at;
                    if ((a & LSTRIP) != 0) while (leftEnd > from && isCSpace(s.charAt(leftEnd - 1))) leftEnd--;
                    if (leftEnd > from) {
                        next.add(Fragment.text(s.substring(from, leftEnd)));
                        nextStarts.add(base + from);
                    }
                    next.add(Fragment.token(id));
                    nextStarts.add(base + at);
                    from = at + tok.length();
                    if ((a & RSTRIP) != 0) while (from < s.length() && isCSpace(s.charAt(from))) from++;
                    search = from;
                }
                if (from < s.length()) {
                    next.add(from == 0 ? fr : Fragment.text(s.substring(from)));
                    nextStarts.add(base + from);
                }
            }
            frags = next;
            starts = nextStarts;
        }
        return frags;
    }

    private static boolean overlaps(int[] ranges, int from, int to) {
        for (int i = 0; i < ranges.length; i += 2) if (ranges[i] < to && ranges[i + 1] > from) return true;
        return false;
    }

    /** C's isspace: the whitespace LSTRIP/RSTRIP remove. */
    private static boolean isCSpace(char c) {
        return c == ' ' || (c >= '\t' && c <= '\r');
    }
}
