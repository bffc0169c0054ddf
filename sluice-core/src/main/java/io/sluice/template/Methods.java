package io.sluice.template;

import io.sluice.template.Value.Bool;
import io.sluice.template.Value.Dict;
import io.sluice.template.Value.Func;
import io.sluice.template.Value.Int;
import io.sluice.template.Value.Seq;
import io.sluice.template.Value.Str;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * The Python methods of str, list/tuple and dict that templates call ({@code message.content.strip()},
 * {@code tools.items()}, {@code ns.items.append(x)}): the only attributes those values have.
 */
final class Methods {
    private Methods() {
    }

    /** The bound method {@code name} of {@code v}, or null when the type has none. */
    static Func of(Value v, String name) {
        Func f = switch (v) {
            case Str s -> str(s, s.value(), name);
            case Seq s -> seq(s, name);
            case Dict d -> dict(d, name);
            default -> null;
        };
        // Bound to its receiver: what the method makes from an untrusted receiver is untrusted (Interpreter.TaintScope).
        return f == null ? null : new Func(f.name, f.kind, f.impl, v);
    }

    private static Func m(String name, Value.Func.Impl impl) {
        return new Func(name, "method", impl);
    }

    private static String strArg(Value v, String what) {
        if (v instanceof Str s) return s.value();
        throw Py.typeError(what + " must be str, not " + Py.typeName(v));
    }

    private static String optChars(Value v) {
        return v == null || v instanceof Value.None ? null : strArg(v, "argument");
    }

    private static long optLong(Value v, long dflt) {
        return v == null || v instanceof Value.None ? dflt : Py.asLong(v);
    }

    private static Seq strList(List<Value> items) {
        return new Seq(new ArrayList<>(items), false);
    }

    private static Func str(Str self, String s, String name) {
        return switch (name) {
            case "strip", "lstrip", "rstrip" -> m(name, (in, a) -> {
                a.expect(name, "chars");
                return PyStr.strip(self, optChars(a.get(0, "chars")), !name.equals("rstrip"), !name.equals("lstrip"));
            });
            case "split", "rsplit" -> m(name, (in, a) -> {
                a.expect(name, "sep", "maxsplit");
                String sep = optChars(a.get(0, "sep"));
                long max = optLong(a.get(1, "maxsplit"), -1);
                List<Value> parts = name.equals("split") ? PyStr.split(s, sep, max) : PyStr.rsplit(s, sep, max);
                in.charge(s.length() + (long) parts.size() * Interpreter.ELEMENT_COST);
                return strList(parts);
            });
            case "splitlines" -> m(name, (in, a) -> {
                a.expect(name, "keepends");
                List<Value> parts = PyStr.splitlines(s, Py.truthy(a.get(0, "keepends", Bool.FALSE)));
                in.charge(s.length() + (long) parts.size() * Interpreter.ELEMENT_COST);
                return strList(parts);
            });
            case "startswith", "endswith" -> m(name, (in, a) -> {
                a.require(name, 1, "prefix", "start", "end");
                String t = sliceArg(s, a.get(1, "start"), a.get(2, "end"));
                Value p = a.get(0, "prefix");
                List<Value> options = p instanceof Seq q && q.tuple ? q.items : List.of(p);
                for (Value o : options) {
                    String x = strArg(o, name + " first arg");
                    if (name.equals("startswith") ? t.startsWith(x) : t.endsWith(x)) return Bool.TRUE;
                }
                return Bool.FALSE;
            });
            case "replace" -> m(name, (in, a) -> {
                a.require(name, 2, "old", "new", "count");
                strArg(a.get(0, "old"), "replace() argument 1");
                strArg(a.get(1, "new"), "replace() argument 2");
                return PyStr.replace(in, self, (Str) a.get(0, "old"), (Str) a.get(1, "new"), optLong(a.get(2, "count"), -1));
            });
            case "upper" -> m(name, (in, a) -> new Str(PyStr.upper(s)));
            case "lower", "casefold" -> m(name, (in, a) -> new Str(PyStr.lower(s)));
            case "title" -> m(name, (in, a) -> new Str(PyStr.title(s)));
            case "capitalize" -> m(name, (in, a) -> new Str(PyStr.capitalize(s)));
            case "swapcase" -> m(name, (in, a) -> new Str(PyStr.swapcase(s)));
            case "find", "rfind", "index", "rindex" -> m(name, (in, a) -> {
                a.require(name, 1, "sub", "start", "end");
                String sub = strArg(a.get(0, "sub"), "must be str");
                long start = optLong(a.get(1, "start"), 0);
                String t = sliceArg(s, a.get(1, "start"), a.get(2, "end"));
                int at = name.startsWith("r") ? t.lastIndexOf(sub) : t.indexOf(sub);
                if (at < 0 && name.contains("index")) throw Py.typeError("substring not found");
                if (at < 0) return new Int(-1);
                long base = start < 0 ? Math.max(0, s.codePointCount(0, s.length()) + start) : start;
                return new Int(base + PyStr.cpIndex(t, at));
            });
            case "count" -> m(name, (in, a) -> {
                a.require(name, 1, "sub");
                return new Int(PyStr.count(s, strArg(a.get(0, "sub"), "must be str")));
            });
            case "join" -> m(name, (in, a) -> {
                a.require(name, 1, "iterable");
                List<Value> items = Py.iterate(a.get(0, "iterable"));
                in.work(items.size());
                long total = 0;
                for (int i = 0; i < items.size(); i++) {
                    if (!(items.get(i) instanceof Str x)) throw Py.typeError("sequence item " + i + ": expected str instance, " + Py.typeName(items.get(i)) + " found");
                    total += x.value().length() + s.length();
                }
                in.charge(total);
                Taint.Buf sb = new Taint.Buf(); // each character keeps its provenance
                for (int i = 0; i < items.size(); i++) {
                    if (i > 0) sb.append(self);
                    sb.append((Str) items.get(i));
                }
                return sb.toStr();
            });
            case "format" -> m(name, (in, a) -> new Str(PyFormat.format(in, s, a)));
            case "center", "ljust", "rjust" -> m(name, (in, a) -> {
                a.require(name, 1, "width", "fillchar");
                String fill = strArg(a.get(1, "fillchar", new Str(" ")), "fillchar");
                if (fill.codePointCount(0, fill.length()) != 1) throw Py.typeError("The fill character must be exactly one character long");
                return new Str(PyStr.pad(in, s, Py.asLong(a.get(0, "width")), fill, name.equals("center") ? '^' : name.equals("ljust") ? '<' : '>'));
            });
            case "zfill" -> m(name, (in, a) -> new Str(PyStr.zfill(in, s, Py.asLong(a.require(name, 1, "width").get(0, "width")))));
            case "partition", "rpartition" -> m(name, (in, a) -> {
                String sep = strArg(a.require(name, 1, "sep").get(0, "sep"), "sep");
                if (sep.isEmpty()) throw Py.typeError("empty separator");
                int at = name.equals("partition") ? s.indexOf(sep) : s.lastIndexOf(sep);
                if (at < 0) {
                    return name.equals("partition") ? Seq.tuple(new Str(s), Str.EMPTY, Str.EMPTY) : Seq.tuple(Str.EMPTY, Str.EMPTY, new Str(s));
                }
                return Seq.tuple(new Str(s.substring(0, at)), new Str(sep), new Str(s.substring(at + sep.length())));
            });
            case "removeprefix" -> m(name, (in, a) -> {
                String p = strArg(a.require(name, 1, "prefix").get(0, "prefix"), "prefix");
                return new Str(s.startsWith(p) ? s.substring(p.length()) : s);
            });
            case "removesuffix" -> m(name, (in, a) -> {
                String p = strArg(a.require(name, 1, "suffix").get(0, "suffix"), "suffix");
                return new Str(s.endsWith(p) && !p.isEmpty() ? s.substring(0, s.length() - p.length()) : s);
            });
            case "isalpha" -> m(name, (in, a) -> Bool.of(PyStr.all(s, Character::isLetter)));
            case "isdigit", "isdecimal", "isnumeric" -> m(name, (in, a) -> Bool.of(PyStr.all(s, Character::isDigit)));
            case "isalnum" -> m(name, (in, a) -> Bool.of(PyStr.all(s, Character::isLetterOrDigit)));
            case "isspace" -> m(name, (in, a) -> Bool.of(PyStr.all(s, PyStr::isSpace)));
            case "isupper" -> m(name, (in, a) -> Bool.of(PyStr.isUpper(s)));
            case "islower" -> m(name, (in, a) -> Bool.of(PyStr.isLower(s)));
            case "istitle" -> m(name, (in, a) -> Bool.of(!s.isEmpty() && PyStr.title(s).equals(s) && s.codePoints().anyMatch(Character::isLetter)));
            default -> null;
        };
    }

    /** s[start:end] for the optional start/end arguments of startswith/find. */
    private static String sliceArg(String s, Value start, Value end) {
        if ((start == null || start instanceof Value.None) && (end == null || end instanceof Value.None)) return s;
        int[] cps = s.codePoints().toArray();
        int n = cps.length;
        long lo = start == null || start instanceof Value.None ? 0 : Py.asLong(start);
        long hi = end == null || end instanceof Value.None ? n : Py.asLong(end);
        if (lo < 0) lo = Math.max(0, lo + n);
        if (hi < 0) hi = Math.max(0, hi + n);
        lo = Math.min(lo, n);
        hi = Math.min(hi, n);
        return lo >= hi ? "" : new String(cps, (int) lo, (int) (hi - lo));
    }

    private static Func seq(Seq s, String name) {
        Func common = switch (name) {
            case "count" -> m(name, (in, a) -> {
                Value x = a.require(name, 1, "value").get(0, "value");
                in.work(s.items.size());
                long n = 0;
                for (Value v : s.items) if (Py.eq(v, x)) n++;
                return new Int(n);
            });
            case "index" -> m(name, (in, a) -> {
                Value x = a.require(name, 1, "value").get(0, "value");
                in.work(s.items.size());
                for (int i = 0; i < s.items.size(); i++) if (Py.eq(s.items.get(i), x)) return new Int(i);
                throw Py.typeError(Py.repr(x) + " is not in " + Py.typeName(s));
            });
            default -> null;
        };
        if (common != null || s.tuple) return common;
        // Lists only. Hugging Face's immutable sandbox refuses these; llama.cpp and many templates written
        // for it use append/pop, so they are kept (they can only change the template's own copy of the data).
        return switch (name) {
            case "append" -> m(name, (in, a) -> {
                in.charge(Interpreter.ELEMENT_COST);
                s.items.add(a.require(name, 1, "object").get(0, "object"));
                return Value.None.NONE;
            });
            case "extend" -> m(name, (in, a) -> {
                List<Value> more = Py.iterate(a.require(name, 1, "iterable").get(0, "iterable"));
                in.charge((long) more.size() * Interpreter.ELEMENT_COST);
                s.items.addAll(more);
                return Value.None.NONE;
            });
            case "insert" -> m(name, (in, a) -> {
                a.require(name, 2, "index", "object");
                in.charge(Interpreter.ELEMENT_COST);
                long i = Py.asLong(a.get(0, "index"));
                int n = s.items.size();
                int at = (int) Math.max(0, Math.min(n, i < 0 ? i + n : i));
                s.items.add(at, a.get(1, "object"));
                return Value.None.NONE;
            });
            case "pop" -> m(name, (in, a) -> {
                a.expect(name, "index");
                if (s.items.isEmpty()) throw Py.typeError("pop from empty list");
                Integer at = Py.index(optLong(a.get(0, "index"), -1), s.items.size());
                if (at == null) throw Py.typeError("pop index out of range");
                return s.items.remove((int) at);
            });
            case "remove" -> m(name, (in, a) -> {
                Value x = a.require(name, 1, "value").get(0, "value");
                for (int i = 0; i < s.items.size(); i++) {
                    if (Py.eq(s.items.get(i), x)) {
                        s.items.remove(i);
                        return Value.None.NONE;
                    }
                }
                throw Py.typeError("list.remove(x): x not in list");
            });
            case "copy" -> m(name, (in, a) -> {
                in.charge((long) s.items.size() * Interpreter.ELEMENT_COST);
                return Seq.list(s.items);
            });
            default -> null;
        };
    }

    private static Func dict(Dict d, String name) {
        return switch (name) {
            case "get" -> m(name, (in, a) -> {
                a.require(name, 1, "key", "default");
                Value v = d.map.get(a.get(0, "key"));
                return v != null ? v : a.get(1, "default", Value.None.NONE);
            });
            case "items" -> m(name, (in, a) -> {
                in.charge((long) d.map.size() * 3 * Interpreter.ELEMENT_COST);
                ArrayList<Value> out = new ArrayList<>(d.map.size());
                for (var e : d.map.entrySet()) out.add(Seq.tuple(e.getKey(), e.getValue()));
                return new Seq(out, false);
            });
            case "keys" -> m(name, (in, a) -> {
                in.charge((long) d.map.size() * Interpreter.ELEMENT_COST);
                return new Seq(new ArrayList<>(d.map.keySet()), false);
            });
            case "values" -> m(name, (in, a) -> {
                in.charge((long) d.map.size() * Interpreter.ELEMENT_COST);
                return new Seq(new ArrayList<>(d.map.values()), false);
            });
            case "copy" -> m(name, (in, a) -> {
                in.charge((long) d.map.size() * 2 * Interpreter.ELEMENT_COST);
                return new Dict(new LinkedHashMap<>(d.map));
            });
            case "update" -> m(name, (in, a) -> {
                if (a.size() > 1) throw Py.typeError("update expected at most 1 argument, got " + a.size());
                Value other = a.positional().isEmpty() ? null : a.positional().getFirst();
                if (other != null) {
                    in.charge((long) Py.dict(other).size() * 2 * Interpreter.ELEMENT_COST);
                    d.map.putAll(Py.dict(other));
                }
                for (var e : a.keywords().entrySet()) d.map.put(new Str(e.getKey()), e.getValue());
                return Value.None.NONE;
            });
            case "pop" -> m(name, (in, a) -> {
                a.require(name, 1, "key", "default");
                Value v = d.map.remove(a.get(0, "key"));
                if (v != null) return v;
                Value dflt = a.get(1, "default");
                if (dflt == null) throw Py.typeError("KeyError: " + Py.repr(a.get(0, "key")));
                return dflt;
            });
            case "setdefault" -> m(name, (in, a) -> {
                a.require(name, 1, "key", "default");
                in.charge(2 * Interpreter.ELEMENT_COST);
                return d.map.computeIfAbsent(a.get(0, "key"), k -> a.get(1, "default", Value.None.NONE));
            });
            default -> null;
        };
    }
}
