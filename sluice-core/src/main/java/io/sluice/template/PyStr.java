package io.sluice.template;

import io.sluice.template.Value.Str;

import java.util.ArrayList;
import java.util.List;

/** Python's str methods over Java strings, by code point (as Python counts), with Python's whitespace. */
final class PyStr {
    private PyStr() {
    }

    static boolean isBmpOnly(String s) {
        for (int i = 0; i < s.length(); i++) if (Character.isSurrogate(s.charAt(i))) return false;
        return true;
    }

    static List<Value> chars(String s) {
        List<Value> out = new ArrayList<>(s.length());
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i);
            int n = Character.charCount(c);
            out.add(new Str(s.substring(i, i + n)));
            i += n;
        }
        return out;
    }

    /** The code point at Python index i (negative from the end), or null when out of range. */
    static Str charAt(String s, long i) {
        if (isBmpOnly(s)) {
            Integer j = Py.index(i, s.length());
            return j == null ? null : new Str(String.valueOf(s.charAt(j)));
        }
        int[] cps = s.codePoints().toArray();
        Integer j = Py.index(i, cps.length);
        return j == null ? null : new Str(new String(cps, j, 1));
    }

    /** Python's str.isspace() for one code point (also what re's \s matches). */
    static boolean isSpace(int c) {
        return switch (c) {
            case '\t', '\n', 0x0b, 0x0c, '\r', 0x1c, 0x1d, 0x1e, 0x1f, ' ', 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000 -> true;
            default -> c >= 0x2000 && c <= 0x200a;
        };
    }

    static boolean isLineBreak(int c) {
        return switch (c) {
            case '\n', '\r', 0x0b, 0x0c, 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029 -> true;
            default -> false;
        };
    }

    static String strip(String s, String chars, boolean left, boolean right) {
        long b = stripBounds(s, chars, left, right);
        return s.substring((int) (b >>> 32), (int) b);
    }

    /** strip() keeping each remaining character's provenance. */
    static Str strip(Str str, String chars, boolean left, boolean right) {
        String s = str.value();
        long b = stripBounds(s, chars, left, right);
        int lo = (int) (b >>> 32), hi = (int) b;
        return Str.of(s.substring(lo, hi), Taint.sub(str.taint(), lo, hi));
    }

    /** The kept range of strip(): start in the high 32 bits, end in the low. */
    private static long stripBounds(String s, String chars, boolean left, boolean right) {
        int lo = 0, hi = s.length();
        if (left) {
            while (lo < hi) {
                int c = s.codePointAt(lo);
                if (!stripped(c, chars)) break;
                lo += Character.charCount(c);
            }
        }
        if (right) {
            while (hi > lo) {
                int c = s.codePointBefore(hi);
                if (!stripped(c, chars)) break;
                hi -= Character.charCount(c);
            }
        }
        return ((long) lo << 32) | hi;
    }

    private static boolean stripped(int c, String chars) {
        return chars == null ? isSpace(c) : chars.indexOf(c) >= 0;
    }

    /** str.split(sep, maxsplit); sep null splits on runs of whitespace and drops empty ends. */
    static List<Value> split(String s, String sep, long maxsplit) {
        List<Value> out = new ArrayList<>();
        if (sep == null) {
            int i = 0, n = s.length();
            while (true) {
                while (i < n && isSpace(s.codePointAt(i))) i += Character.charCount(s.codePointAt(i));
                if (i >= n) break;
                if (maxsplit >= 0 && out.size() >= maxsplit) {
                    out.add(new Str(strip(s.substring(i), null, false, true)));
                    break;
                }
                int j = i;
                while (j < n && !isSpace(s.codePointAt(j))) j += Character.charCount(s.codePointAt(j));
                out.add(new Str(s.substring(i, j)));
                i = j;
            }
            return out;
        }
        if (sep.isEmpty()) throw Py.typeError("empty separator");
        int i = 0;
        while (maxsplit < 0 || out.size() < maxsplit) {
            int j = s.indexOf(sep, i);
            if (j < 0) break;
            out.add(new Str(s.substring(i, j)));
            i = j + sep.length();
        }
        out.add(new Str(s.substring(i)));
        return out;
    }

    static List<Value> rsplit(String s, String sep, long maxsplit) {
        if (maxsplit < 0) return split(s, sep, -1);
        List<Value> out = new ArrayList<>();
        if (sep == null) {
            int j = s.length();
            while (true) {
                while (j > 0 && isSpace(s.codePointBefore(j))) j -= Character.charCount(s.codePointBefore(j));
                if (j <= 0) break;
                if (out.size() >= maxsplit) {
                    out.add(new Str(strip(s.substring(0, j), null, true, false)));
                    break;
                }
                int i = j;
                while (i > 0 && !isSpace(s.codePointBefore(i))) i -= Character.charCount(s.codePointBefore(i));
                out.add(new Str(s.substring(i, j)));
                j = i;
            }
        } else {
            if (sep.isEmpty()) throw Py.typeError("empty separator");
            int j = s.length();
            while (out.size() < maxsplit) {
                int i = s.lastIndexOf(sep, j - sep.length());
                if (i < 0 || j - sep.length() < 0) break;
                out.add(new Str(s.substring(i + sep.length(), j)));
                j = i;
            }
            out.add(new Str(s.substring(0, j)));
        }
        java.util.Collections.reverse(out);
        return out;
    }

    static List<Value> splitlines(String s, boolean keepends) {
        List<Value> out = new ArrayList<>();
        int i = 0, start = 0, n = s.length();
        while (i < n) {
            char c = s.charAt(i);
            if (isLineBreak(c)) {
                int end = i;
                i += c == '\r' && i + 1 < n && s.charAt(i + 1) == '\n' ? 2 : 1;
                out.add(new Str(s.substring(start, keepends ? i : end)));
                start = i;
            } else {
                i++;
            }
        }
        if (start < n) out.add(new Str(s.substring(start)));
        return out;
    }

    private static boolean cased(int c) {
        return Character.isUpperCase(c) || Character.isLowerCase(c) || Character.isTitleCase(c);
    }

    static String upper(String s) {
        return s.toUpperCase(java.util.Locale.ROOT);
    }

    static String lower(String s) {
        return s.toLowerCase(java.util.Locale.ROOT);
    }

    /** Python's str.title(): a cased character after an uncased one starts a word. */
    static String title(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        boolean prevCased = false;
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i);
            i += Character.charCount(c);
            String ch = new String(Character.toChars(c));
            sb.append(prevCased ? lower(ch) : titleCase(c));
            prevCased = cased(c);
        }
        return sb.toString();
    }

    private static String titleCase(int c) {
        int t = Character.toTitleCase(c);
        return t != c || !Character.isLowerCase(c) ? new String(Character.toChars(t)) : upper(new String(Character.toChars(c)));
    }

    /** Python 3.8+ str.capitalize(): first character title-cased, the rest lower-cased. */
    static String capitalize(String s) {
        if (s.isEmpty()) return s;
        int c = s.codePointAt(0);
        return titleCase(c) + lower(s.substring(Character.charCount(c)));
    }

    static String swapcase(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        s.codePoints().forEach(c -> {
            String ch = new String(Character.toChars(c));
            sb.append(Character.isUpperCase(c) ? lower(ch) : Character.isLowerCase(c) ? upper(ch) : ch);
        });
        return sb.toString();
    }

    /**
     * str.replace keeping provenance: kept characters of {@code str} keep theirs, each inserted {@code rep}
     * keeps its own. (Replacing the empty string is judged as a whole by the call's scope.)
     */
    static Str replace(Interpreter in, Str str, Str oldStr, Str repStr, long count) {
        String s = str.value(), old = oldStr.value(), rep = repStr.value();
        if (old.isEmpty() || count == 0) {
            String r = replace(in, s, old, rep, count);
            return r.equals(s) ? str : new Str(r);
        }
        long hits = 0;
        for (int i = s.indexOf(old); i >= 0 && (count < 0 || hits < count); i = s.indexOf(old, i + old.length())) hits++;
        if (hits == 0) return str;
        in.charge(s.length() + Py.sizeTimes(hits, Math.max(0, rep.length() - old.length())));
        Taint.Buf sb = new Taint.Buf();
        int i = 0;
        for (long k = 0; k < hits; k++) {
            int j = s.indexOf(old, i);
            sb.append(s.substring(i, j), Taint.sub(str.taint(), i, j)).append(repStr);
            i = j + old.length();
        }
        return sb.append(s.substring(i), Taint.sub(str.taint(), i, s.length())).toStr();
    }

    static String replace(Interpreter in, String s, String old, String rep, long count) {
        if (count == 0) return s;
        if (old.isEmpty()) {
            List<Value> cs = chars(s);
            long n = count < 0 ? cs.size() + 1 : Math.min(count, cs.size() + 1);
            in.charge(s.length() + Py.sizeTimes(n, rep.length()));
            StringBuilder sb = new StringBuilder();
            long done = 0;
            for (Value c : cs) {
                if (done < n) {
                    sb.append(rep);
                    done++;
                }
                sb.append(((Str) c).value());
            }
            if (done < n) sb.append(rep);
            return sb.toString();
        }
        long hits = 0;
        for (int i = s.indexOf(old); i >= 0 && (count < 0 || hits < count); i = s.indexOf(old, i + old.length())) hits++;
        if (hits == 0) return s;
        in.charge(s.length() + Py.sizeTimes(hits, Math.max(0, rep.length() - old.length())));
        StringBuilder sb = new StringBuilder();
        int i = 0;
        for (long k = 0; k < hits; k++) {
            int j = s.indexOf(old, i);
            sb.append(s, i, j).append(rep);
            i = j + old.length();
        }
        return sb.append(s, i, s.length()).toString();
    }

    static long count(String s, String sub) {
        if (sub.isEmpty()) return s.codePointCount(0, s.length()) + 1;
        long n = 0;
        for (int i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + sub.length())) n++;
        return n;
    }

    /** Java char index to Python code point index. */
    static long cpIndex(String s, int charIndex) {
        return charIndex < 0 ? -1 : s.codePointCount(0, charIndex);
    }

    static String pad(Interpreter in, String s, long width, String fill, char align) {
        int len = s.codePointCount(0, s.length());
        if (width <= len) return s;
        in.charge(width);
        long total = width - len;
        long left = switch (align) {
            case '<' -> 0;
            case '>' -> total;
            // Python's center puts the odd extra space on the right unless both lengths are odd
            default -> total / 2 + (total & len & 1);
        };
        return fill.repeat((int) left) + s + fill.repeat((int) (total - left));
    }

    static String zfill(Interpreter in, String s, long width) {
        int len = s.codePointCount(0, s.length());
        if (width <= len) return s;
        in.charge(width);
        String sign = !s.isEmpty() && (s.charAt(0) == '+' || s.charAt(0) == '-') ? s.substring(0, 1) : "";
        return sign + "0".repeat((int) (width - len)) + s.substring(sign.length());
    }

    static boolean all(String s, java.util.function.IntPredicate p) {
        if (s.isEmpty()) return false;
        return s.codePoints().allMatch(p);
    }

    static boolean isUpper(String s) {
        boolean anyCased = false;
        for (int c : s.codePoints().toArray()) {
            if (Character.isLowerCase(c) || Character.isTitleCase(c)) return false;
            if (Character.isUpperCase(c)) anyCased = true;
        }
        return anyCased;
    }

    static boolean isLower(String s) {
        boolean anyCased = false;
        for (int c : s.codePoints().toArray()) {
            if (Character.isUpperCase(c) || Character.isTitleCase(c)) return false;
            if (Character.isLowerCase(c)) anyCased = true;
        }
        return anyCased;
    }
}
