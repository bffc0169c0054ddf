package io.sluice.template;

import io.sluice.template.Value.Bool;
import io.sluice.template.Value.Dict;
import io.sluice.template.Value.Func;
import io.sluice.template.Value.Int;
import io.sluice.template.Value.Namespace;
import io.sluice.template.Value.Real;
import io.sluice.template.Value.Seq;
import io.sluice.template.Value.Str;
import io.sluice.template.Value.Undefined;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Jinja2's built-in filters, tests and global functions (with Hugging Face's tojson), by name. */
final class Builtins {
    private Builtins() {
    }

    @FunctionalInterface
    interface Filter {
        Value apply(Interpreter in, Value v, Args a);
    }

    @FunctionalInterface
    interface Test {
        boolean test(Interpreter in, Value v, Args a);
    }

    /** The sandbox's cap on range() (Jinja's MAX_RANGE, as Hugging Face runs it). */
    static final int MAX_RANGE = 100_000;

    static final Map<String, Filter> FILTERS = new HashMap<>();
    static final Map<String, Test> TESTS = new HashMap<>();
    static final Map<String, Value> GLOBALS = new HashMap<>();

    private static final Pattern WORD = Pattern.compile("\\w+", Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern TITLE_SPLIT = Pattern.compile("([-\\s({\\[<]+)", Pattern.UNICODE_CHARACTER_CLASS);

    private static Str str(String s) {
        return new Str(s);
    }

    /** Jinja's attribute getter for filters: "a.b" or "0" walks items/attributes; missing gives {@code dflt} or undefined. */
    static Value attribute(Interpreter in, Value item, Value attr, Value dflt) {
        List<Value> parts = new ArrayList<>();
        if (attr instanceof Str s) {
            for (String p : s.value().split("\\.", -1)) parts.add(p.chars().allMatch(Character::isDigit) && !p.isEmpty() ? new Int(Long.parseLong(p)) : str(p));
        } else {
            parts.add(attr);
        }
        Value v = item;
        for (Value p : parts) {
            v = in.getitem(v, p);
            if (v instanceof Undefined && dflt != null) return dflt;
        }
        return v;
    }

    private static Value lowerIfStr(Value v, boolean caseSensitive) {
        return !caseSensitive && v instanceof Str s ? str(PyStr.lower(s.value())) : v;
    }

    private static Comparator<Value> order(Interpreter in) {
        return (x, y) -> {
            in.work(1);
            return Py.compare(x, y);
        };
    }

    private static List<Value> iterate(Interpreter in, Value v) {
        List<Value> items = Py.iterate(v);
        in.work(items.size());
        return items;
    }

    private static Seq list(Interpreter in, List<Value> items) {
        in.charge((long) items.size() * Interpreter.ELEMENT_COST);
        return new Seq(new ArrayList<>(items), false);
    }

    private static boolean flag(Args a, int i, String name, boolean dflt) {
        Value v = a.get(i, name);
        return v == null ? dflt : Py.truthy(v);
    }

    static {
        // ---- strings ----
        FILTERS.put("upper", (in, v, a) -> str(PyStr.upper(Py.str(v))));
        FILTERS.put("lower", (in, v, a) -> str(PyStr.lower(Py.str(v))));
        FILTERS.put("capitalize", (in, v, a) -> str(PyStr.capitalize(Py.str(v))));
        FILTERS.put("title", (in, v, a) -> {
            StringBuilder sb = new StringBuilder();
            String s = Py.str(v);
            Matcher m = TITLE_SPLIT.matcher(s);
            int last = 0;
            List<String> items = new ArrayList<>();
            while (m.find()) {
                items.add(s.substring(last, m.start()));
                items.add(m.group());
                last = m.end();
            }
            items.add(s.substring(last));
            for (String item : items) {
                if (item.isEmpty()) continue;
                int c = item.codePointAt(0);
                int n = Character.charCount(c);
                sb.append(PyStr.upper(item.substring(0, n))).append(PyStr.lower(item.substring(n)));
            }
            return str(sb.toString());
        });
        FILTERS.put("trim", (in, v, a) -> {
            a.expect("trim", "chars");
            Value c = a.get(0, "chars");
            return PyStr.strip(in.strOf(v), c == null || c instanceof Value.None ? null : Py.str(c), true, true);
        });
        FILTERS.put("replace", (in, v, a) -> {
            a.require("replace", 2, "old", "new", "count");
            Value count = a.get(2, "count");
            return PyStr.replace(in, in.strOf(v), in.strOf(a.get(0, "old")), in.strOf(a.get(1, "new")),
                    count == null || count instanceof Value.None ? -1 : Py.asLong(count));
        });
        FILTERS.put("string", (in, v, a) -> v instanceof Str ? v : str(Py.str(v)));
        FILTERS.put("safe", (in, v, a) -> v instanceof Str s && s.isMarkup() ? v : Str.markupOf(Py.str(v), in.strOf(v).taint()));
        Filter escape = (in, v, a) -> {
            if (v instanceof Str s && s.isMarkup()) return s;
            String e = Py.htmlEscape(Py.str(v));
            in.charge(e.length());
            return Str.markup(e);
        };
        FILTERS.put("escape", escape);
        FILTERS.put("e", escape);
        FILTERS.put("forceescape", (in, v, a) -> {
            String e = Py.htmlEscape(Py.str(v));
            in.charge(e.length());
            return Str.markup(e);
        });
        FILTERS.put("center", (in, v, a) -> {
            a.expect("center", "width");
            return str(PyStr.pad(in, Py.str(v), Py.asLong(a.get(0, "width", new Int(80))), " ", '^'));
        });
        FILTERS.put("indent", (in, v, a) -> {
            a.expect("indent", "width", "first", "blank");
            Value w = a.get(0, "width", new Int(4));
            String ind = w instanceof Str s ? s.value() : " ".repeat((int) Math.max(0, Math.min(1000, Py.asLong(w))));
            boolean first = flag(a, 1, "first", false), blank = flag(a, 2, "blank", false);
            String s = Py.str(v) + "\n";
            List<Value> lines = PyStr.splitlines(s, false);
            in.charge(s.length() + (long) lines.size() * (ind.length() + 1));
            StringBuilder sb = new StringBuilder();
            if (blank) {
                for (int i = 0; i < lines.size(); i++) {
                    if (i > 0) sb.append('\n').append(ind);
                    sb.append(((Str) lines.get(i)).value());
                }
            } else {
                sb.append(((Str) lines.getFirst()).value());
                for (int i = 1; i < lines.size(); i++) {
                    String line = ((Str) lines.get(i)).value();
                    sb.append('\n');
                    if (!line.isEmpty()) sb.append(ind);
                    sb.append(line);
                }
            }
            return str(first ? ind + sb : sb.toString());
        });
        FILTERS.put("truncate", (in, v, a) -> {
            a.expect("truncate", "length", "killwords", "end", "leeway");
            String s = Py.str(v);
            long length = Py.asLong(a.get(0, "length", new Int(255)));
            boolean kill = flag(a, 1, "killwords", false);
            String end = Py.str(a.get(2, "end", str("...")));
            Value lw = a.get(3, "leeway");
            long leeway = lw == null || lw instanceof Value.None ? 5 : Py.asLong(lw);
            int n = s.codePointCount(0, s.length());
            if (length < end.length()) throw Py.typeError("expected length >= " + end.length() + ", got " + length);
            if (n <= length + leeway) return str(s);
            String head = s.substring(0, s.offsetByCodePoints(0, (int) (length - end.length())));
            if (kill) return str(head + end);
            int sp = head.lastIndexOf(' ');
            return str((sp < 0 ? head : head.substring(0, sp)) + end);
        });
        FILTERS.put("wordcount", (in, v, a) -> {
            Matcher m = WORD.matcher(Py.str(v));
            long n = 0;
            while (m.find()) n++;
            return new Int(n);
        });
        FILTERS.put("format", (in, v, a) -> {
            if (!a.positional().isEmpty() && !a.keywords().isEmpty()) throw Py.typeError("can't handle positional and keyword arguments at the same time");
            Value args;
            if (!a.keywords().isEmpty()) {
                LinkedHashMap<Value, Value> m = new LinkedHashMap<>();
                a.keywords().forEach((k, x) -> m.put(str(k), x));
                args = new Dict(m);
            } else {
                args = new Seq(new ArrayList<>(a.positional()), true);
            }
            return str(PyFormat.percent(in, Py.str(v), args));
        });
        FILTERS.put("tojson", (in, v, a) -> {
            String s = Json.dumps(in, v, a);
            in.charge(s.length());
            return str(s);
        });

        // ---- numbers ----
        FILTERS.put("abs", (in, v, a) -> switch (v) {
            case Real r -> new Real(Math.abs(r.value()));
            case Int i when i.value() < 0 -> Py.neg(i);
            case Int i -> i;
            case Bool b -> new Int(b.value() ? 1 : 0);
            default -> throw Py.typeError("bad operand type for abs(): '" + Py.typeName(v) + "'");
        });
        FILTERS.put("int", (in, v, a) -> {
            a.expect("int", "default", "base");
            Value dflt = a.get(0, "default", new Int(0));
            long base = Py.asLong(a.get(1, "base", new Int(10)));
            return switch (v) {
                case Int i -> i;
                case Bool b -> new Int(b.value() ? 1 : 0);
                case Real r -> Double.isFinite(r.value()) ? new Int((long) r.value()) : dflt;
                case Str s -> {
                    String t = PyStr.strip(s.value(), null, true, true).replace("_", "");
                    try {
                        String digits = t;
                        int radix = (int) base;
                        if (base == 16 && digits.toLowerCase().matches("[+-]?0x.*")) digits = digits.replaceFirst("(?i)0x", "");
                        yield new Int(Long.parseLong(digits, radix));
                    } catch (NumberFormatException e) {
                        try {
                            double d = Double.parseDouble(t);
                            yield Double.isFinite(d) ? new Int((long) d) : dflt;
                        } catch (NumberFormatException e2) {
                            yield dflt;
                        }
                    }
                }
                default -> dflt;
            };
        });
        FILTERS.put("float", (in, v, a) -> {
            a.expect("float", "default");
            Value dflt = a.get(0, "default", new Real(0.0));
            return switch (v) {
                case Real r -> r;
                case Int i -> new Real(i.value());
                case Bool b -> new Real(b.value() ? 1 : 0);
                case Str s -> {
                    String t = PyStr.strip(s.value(), null, true, true).replace("_", "").toLowerCase();
                    if (t.matches("[+-]?(inf|infinity)")) yield new Real(t.startsWith("-") ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY);
                    if (t.matches("[+-]?nan")) yield new Real(Double.NaN);
                    if (!t.matches("[+-]?(\\d+\\.?\\d*|\\.\\d+)(e[+-]?\\d+)?")) yield dflt;
                    yield new Real(Double.parseDouble(t));
                }
                default -> dflt;
            };
        });
        FILTERS.put("round", (in, v, a) -> {
            a.expect("round", "precision", "method");
            long p = Py.asLong(a.get(0, "precision", new Int(0)));
            String method = Py.str(a.get(1, "method", str("common")));
            if (!Py.isNumber(v)) throw Py.typeError("type " + Py.typeName(v) + " doesn't define __round__ method");
            if (p > 300 || p < -300) throw Py.typeError("round precision out of range");
            switch (method) {
                case "common" -> {
                    if (Py.isIntegral(v)) return new Int(Py.asLong(v));
                    double d = Py.asDouble(v);
                    if (!Double.isFinite(d)) return v;
                    return new Real(Math.copySign(new BigDecimal(d).setScale((int) p, RoundingMode.HALF_EVEN).doubleValue(), d));
                }
                case "ceil", "floor" -> {
                    double scale = Math.pow(10, p);
                    double d = Py.asDouble(v) * scale;
                    return new Real((method.equals("ceil") ? Math.ceil(d) : Math.floor(d)) / scale);
                }
                default -> throw Py.typeError("method must be common, ceil or floor");
            }
        });

        // ---- sequences ----
        Filter len = (in, v, a) -> new Int(Py.len(v));
        FILTERS.put("length", len);
        FILTERS.put("count", len);
        FILTERS.put("list", (in, v, a) -> list(in, iterate(in, v)));
        FILTERS.put("first", (in, v, a) -> {
            List<Value> items = Py.iterate(v);
            return items.isEmpty() ? new Undefined("No first item, sequence was empty.") : items.getFirst();
        });
        FILTERS.put("last", (in, v, a) -> {
            List<Value> items = Py.iterate(v);
            return items.isEmpty() ? new Undefined("No last item, sequence was empty.") : items.getLast();
        });
        FILTERS.put("reverse", (in, v, a) -> {
            if (v instanceof Str s) return str(new StringBuilder(s.value()).reverse().toString());
            List<Value> items = new ArrayList<>(iterate(in, v));
            java.util.Collections.reverse(items);
            return list(in, items);
        });
        FILTERS.put("join", (in, v, a) -> {
            a.expect("join", "d", "attribute");
            Str sep = in.strOf(a.get(0, "d", Str.EMPTY));
            Value attr = a.get(1, "attribute");
            List<Value> items = iterate(in, v);
            Taint.Buf sb = new Taint.Buf(); // each character keeps its provenance
            for (int i = 0; i < items.size(); i++) {
                Value x = attr == null || attr instanceof Value.None ? items.get(i) : attribute(in, items.get(i), attr, null);
                Str s = in.strOf(x);
                in.charge(s.value().length() + sep.value().length());
                if (i > 0) sb.append(sep);
                sb.append(s);
            }
            return sb.toStr();
        });
        FILTERS.put("default", Builtins::dflt);
        FILTERS.put("d", Builtins::dflt);
        FILTERS.put("items", (in, v, a) -> {
            if (v instanceof Undefined) return list(in, List.of());
            if (!(v instanceof Dict d)) throw Py.typeError("Can only get item pairs from a mapping.");
            List<Value> out = new ArrayList<>();
            for (var e : d.map.entrySet()) out.add(Seq.tuple(e.getKey(), e.getValue()));
            return list(in, out);
        });
        FILTERS.put("dictsort", (in, v, a) -> {
            a.expect("dictsort", "case_sensitive", "by", "reverse");
            boolean cs = flag(a, 0, "case_sensitive", false);
            String by = Py.str(a.get(1, "by", str("key")));
            boolean rev = flag(a, 2, "reverse", false);
            int pos = switch (by) {
                case "key" -> 0;
                case "value" -> 1;
                default -> throw Py.typeError("You can only sort by either \"key\" or \"value\"");
            };
            List<Value> out = new ArrayList<>();
            for (var e : Py.dict(v).entrySet()) out.add(Seq.tuple(e.getKey(), e.getValue()));
            Comparator<Value> c = Comparator.comparing(t -> lowerIfStr(((Seq) t).items.get(pos), cs), order(in));
            out.sort(rev ? c.reversed() : c);
            return list(in, out);
        });
        FILTERS.put("sort", (in, v, a) -> {
            a.expect("sort", "reverse", "case_sensitive", "attribute");
            boolean rev = flag(a, 0, "reverse", false), cs = flag(a, 1, "case_sensitive", false);
            Value attr = a.get(2, "attribute");
            List<Value> items = new ArrayList<>(iterate(in, v));
            Comparator<Value> c = Comparator.comparing(x -> lowerIfStr(attr == null || attr instanceof Value.None ? x : attribute(in, x, attr, null), cs), order(in));
            items.sort(rev ? c.reversed() : c);
            return list(in, items);
        });
        FILTERS.put("unique", (in, v, a) -> {
            a.expect("unique", "case_sensitive", "attribute");
            boolean cs = flag(a, 0, "case_sensitive", false);
            Value attr = a.get(1, "attribute");
            List<Value> out = new ArrayList<>();
            List<Value> seen = new ArrayList<>();
            Set<Value> seenHashable = new HashSet<>();
            for (Value x : iterate(in, v)) {
                Value key = lowerIfStr(attr == null || attr instanceof Value.None ? x : attribute(in, x, attr, null), cs);
                boolean dup = seenHashable.contains(key);
                if (!dup && !(key instanceof Str)) {
                    in.work(seen.size());
                    for (Value s : seen) if (Py.eq(s, key)) dup = true;
                }
                if (dup) continue;
                seen.add(key);
                seenHashable.add(key);
                out.add(x);
            }
            return list(in, out);
        });
        Filter min = (in, v, a) -> aggregate(in, v, a, "min");
        Filter max = (in, v, a) -> aggregate(in, v, a, "max");
        FILTERS.put("min", min);
        FILTERS.put("max", max);
        FILTERS.put("sum", (in, v, a) -> {
            a.expect("sum", "attribute", "start");
            Value attr = a.get(0, "attribute");
            Value total = a.get(1, "start", new Int(0));
            for (Value x : iterate(in, v)) total = Py.add(in, total, attr == null || attr instanceof Value.None ? x : attribute(in, x, attr, null));
            return total;
        });
        FILTERS.put("batch", (in, v, a) -> {
            a.require("batch", 1, "linecount", "fill_with");
            long n = Py.asLong(a.get(0, "linecount"));
            if (n <= 0) throw Py.typeError("batch size must be positive");
            Value fill = a.get(1, "fill_with");
            List<Value> items = iterate(in, v);
            List<Value> out = new ArrayList<>();
            ArrayList<Value> cur = new ArrayList<>();
            for (Value x : items) {
                if (cur.size() == n) {
                    out.add(new Seq(cur, false));
                    cur = new ArrayList<>();
                }
                cur.add(x);
            }
            if (!cur.isEmpty()) {
                if (fill != null && !(fill instanceof Value.None)) while (cur.size() < n) cur.add(fill);
                out.add(new Seq(cur, false));
            }
            in.charge((long) (items.size() + out.size()) * Interpreter.ELEMENT_COST);
            return new Seq(new ArrayList<>(out), false);
        });
        FILTERS.put("slice", (in, v, a) -> {
            a.require("slice", 1, "slices", "fill_with");
            long slices = Py.asLong(a.get(0, "slices"));
            if (slices <= 0 || slices > 10_000) throw Py.typeError("slice count must be in 1..10000");
            Value fill = a.get(1, "fill_with");
            List<Value> seq = iterate(in, v);
            int size = seq.size();
            long per = size / slices, extra = size % slices;
            int offset = 0;
            ArrayList<Value> out = new ArrayList<>();
            for (int k = 0; k < slices; k++) {
                int start = (int) (offset + k * per);
                if (k < extra) offset++;
                int end = (int) (offset + (k + 1) * per);
                ArrayList<Value> part = new ArrayList<>(seq.subList(start, end));
                if (fill != null && !(fill instanceof Value.None) && k >= extra) part.add(fill);
                out.add(new Seq(part, false));
            }
            in.charge((long) (size + slices) * Interpreter.ELEMENT_COST);
            return new Seq(out, false);
        });
        FILTERS.put("map", (in, v, a) -> {
            List<Value> items = Py.truthy(v) ? iterate(in, v) : List.of();
            List<Value> out = new ArrayList<>(items.size());
            if (a.positional().isEmpty()) {
                Value attr = a.keywords().get("attribute");
                if (attr == null) throw Py.typeError("map requires a filter name or attribute=");
                for (String k : a.keywords().keySet()) if (!k.equals("attribute") && !k.equals("default")) throw Py.typeError("Unexpected keyword argument '" + k + "'");
                Value dflt = a.keywords().get("default");
                for (Value x : items) out.add(attribute(in, x, attr, dflt));
            } else {
                String name = Py.str(a.positional().getFirst());
                Args rest = new Args(a.positional().subList(1, a.positional().size()), a.keywords(), a.taintedNames());
                for (Value x : items) out.add(in.filter(name, x, rest));
            }
            return list(in, out);
        });
        FILTERS.put("select", (in, v, a) -> select(in, v, a, false, true));
        FILTERS.put("reject", (in, v, a) -> select(in, v, a, false, false));
        FILTERS.put("selectattr", (in, v, a) -> select(in, v, a, true, true));
        FILTERS.put("rejectattr", (in, v, a) -> select(in, v, a, true, false));
        FILTERS.put("groupby", (in, v, a) -> {
            a.require("groupby", 1, "attribute", "default", "case_sensitive");
            Value attr = a.get(0, "attribute");
            Value dflt = a.get(1, "default");
            boolean cs = flag(a, 2, "case_sensitive", false);
            List<Value> items = new ArrayList<>(iterate(in, v));
            Comparator<Value> c = Comparator.comparing(x -> lowerIfStr(attribute(in, x, attr, dflt), cs), order(in));
            items.sort(c);
            ArrayList<Value> out = new ArrayList<>();
            ArrayList<Value> group = null;
            Value groupKey = null;
            for (Value x : items) {
                Value k = lowerIfStr(attribute(in, x, attr, dflt), cs);
                if (group == null || !Py.eq(k, groupKey)) {
                    group = new ArrayList<>();
                    groupKey = k;
                    out.add(Seq.tuple(attribute(in, x, attr, dflt), new Seq(group, false)));
                }
                group.add(x);
            }
            in.charge((long) (items.size() + out.size() * 3) * Interpreter.ELEMENT_COST);
            return new Seq(out, false);
        });
        FILTERS.put("attr", (in, v, a) -> {
            String name = Py.str(a.require("attr", 1, "name").get(0, "name"));
            if (v instanceof Dict) { // attribute lookup only: a dict's keys are not attributes
                Func m = Methods.of(v, name);
                return m != null ? m : new Undefined(Py.objectDescription(v) + " has no attribute '" + name + "'");
            }
            return in.getattr(v, name);
        });

        // ---- tests ----
        TESTS.put("defined", (in, v, a) -> !(v instanceof Undefined));
        TESTS.put("undefined", (in, v, a) -> v instanceof Undefined);
        TESTS.put("none", (in, v, a) -> v instanceof Value.None);
        TESTS.put("boolean", (in, v, a) -> v instanceof Bool);
        TESTS.put("true", (in, v, a) -> v instanceof Bool b && b.value());
        TESTS.put("false", (in, v, a) -> v instanceof Bool b && !b.value());
        TESTS.put("integer", (in, v, a) -> v instanceof Int);
        TESTS.put("float", (in, v, a) -> v instanceof Real);
        TESTS.put("number", (in, v, a) -> Py.isNumber(v));
        TESTS.put("string", (in, v, a) -> v instanceof Str);
        TESTS.put("mapping", (in, v, a) -> v instanceof Dict);
        TESTS.put("sequence", (in, v, a) -> v instanceof Seq || v instanceof Str || v instanceof Dict || v instanceof Undefined);
        TESTS.put("iterable", (in, v, a) -> Py.isIterable(v));
        TESTS.put("callable", (in, v, a) -> v instanceof Func);
        TESTS.put("escaped", (in, v, a) -> false);
        TESTS.put("odd", (in, v, a) -> Math.floorMod(Py.asLong(v), 2) == 1);
        TESTS.put("even", (in, v, a) -> Math.floorMod(Py.asLong(v), 2) == 0);
        TESTS.put("divisibleby", (in, v, a) -> Py.eq(Py.mod(in, v, a.require("divisibleby", 1, "num").get(0, "num")), new Int(0)));
        TESTS.put("lower", (in, v, a) -> PyStr.isLower(Py.str(v)));
        TESTS.put("upper", (in, v, a) -> PyStr.isUpper(Py.str(v)));
        TESTS.put("in", (in, v, a) -> Py.contains(a.require("in", 1, "seq").get(0, "seq"), v));
        TESTS.put("sameas", (in, v, a) -> {
            Value o = a.require("sameas", 1, "other").get(0, "other");
            return v == o || (v instanceof Value.None && o instanceof Value.None) || (v instanceof Bool b && o instanceof Bool c && b.value() == c.value());
        });
        TESTS.put("filter", (in, v, a) -> v instanceof Str s && FILTERS.containsKey(s.value()));
        TESTS.put("test", (in, v, a) -> v instanceof Str s && TESTS.containsKey(s.value()));
        Test eq = (in, v, a) -> Py.eq(v, a.require("eq", 1, "other").get(0, "other"));
        Test ne = (in, v, a) -> !Py.eq(v, a.require("ne", 1, "other").get(0, "other"));
        Test lt = (in, v, a) -> Py.compare(v, a.require("lt", 1, "other").get(0, "other"), "<") < 0;
        Test le = (in, v, a) -> Py.compare(v, a.require("le", 1, "other").get(0, "other"), "<=") <= 0;
        Test gt = (in, v, a) -> Py.compare(v, a.require("gt", 1, "other").get(0, "other"), ">") > 0;
        Test ge = (in, v, a) -> Py.compare(v, a.require("ge", 1, "other").get(0, "other"), ">=") >= 0;
        for (String n : List.of("eq", "==", "equalto")) TESTS.put(n, eq);
        for (String n : List.of("ne", "!=")) TESTS.put(n, ne);
        for (String n : List.of("lt", "<", "lessthan")) TESTS.put(n, lt);
        for (String n : List.of("le", "<=")) TESTS.put(n, le);
        for (String n : List.of("gt", ">", "greaterthan")) TESTS.put(n, gt);
        for (String n : List.of("ge", ">=")) TESTS.put(n, ge);

        // ---- globals ----
        GLOBALS.put("range", Func.builtin("range", (in, a) -> {
            a.expect("range", "start", "stop", "step");
            if (a.size() == 0) throw Py.typeError("range expected at least 1 argument, got 0");
            long start = 0, stop, step = 1;
            if (a.size() == 1) {
                stop = Py.asLong(a.positional().get(0));
            } else {
                start = Py.asLong(a.positional().get(0));
                stop = Py.asLong(a.positional().get(1));
                if (a.size() > 2) step = Py.asLong(a.positional().get(2));
            }
            if (step == 0) throw Py.typeError("range() arg 3 must not be zero");
            long count = step > 0 ? (stop > start ? (stop - start + step - 1) / step : 0) : (start > stop ? (start - stop - step - 1) / -step : 0);
            if (count > MAX_RANGE || count < 0) throw Py.typeError("Range too big. The sandbox blocks ranges larger than MAX_RANGE (" + MAX_RANGE + ").");
            in.charge(count * Interpreter.ELEMENT_COST);
            ArrayList<Value> out = new ArrayList<>((int) count);
            for (long k = 0, x = start; k < count; k++, x += step) out.add(new Int(x));
            return new Seq(out, false);
        }));
        GLOBALS.put("dict", Func.builtin("dict", (in, a) -> {
            LinkedHashMap<Value, Value> m = new LinkedHashMap<>();
            if (a.size() > 1) throw Py.typeError("dict expected at most 1 argument, got " + a.size());
            if (a.size() == 1) {
                Value src = a.positional().getFirst();
                if (src instanceof Dict d) m.putAll(d.map);
                else for (Value pair : Py.iterate(src)) {
                    List<Value> kv = Py.iterate(pair);
                    if (kv.size() != 2) throw Py.typeError("dictionary update sequence element has length " + kv.size() + "; 2 is required");
                    m.put(kv.get(0), kv.get(1));
                }
            }
            a.keywords().forEach((k, v) -> m.put(str(k), v));
            in.charge((long) m.size() * 2 * Interpreter.ELEMENT_COST);
            return new Dict(m);
        }));
        GLOBALS.put("namespace", Func.builtin("namespace", (in, a) -> {
            Namespace ns = new Namespace();
            if (a.size() > 1) throw Py.typeError("namespace expected at most 1 positional argument");
            if (a.size() == 1) Py.dict(a.positional().getFirst()).forEach((k, v) -> ns.attrs.put(Py.str(k), v));
            ns.attrs.putAll(a.keywords());
            in.charge((long) ns.attrs.size() * 2 * Interpreter.ELEMENT_COST);
            return ns;
        }));
        GLOBALS.put("cycler", Func.builtin("cycler", (in, a) -> new Interpreter.Cycler(a.positional())));
        GLOBALS.put("joiner", Func.builtin("joiner", (in, a) -> {
            Str sep = in.strOf(a.expect("joiner", "sep").get(0, "sep", Str.of(", ", null)));
            boolean[] used = {false};
            return new Func("joiner", "function", (in2, b) -> {
                if (used[0]) return sep;
                used[0] = true;
                return Str.EMPTY;
            }, sep);
        }));
    }

    private static Value dflt(Interpreter in, Value v, Args a) {
        a.expect("default", "default_value", "boolean");
        Value d = a.get(0, "default_value", Str.EMPTY);
        boolean bool = flag(a, 1, "boolean", false);
        return v instanceof Undefined || (bool && !Py.truthy(v)) ? d : v;
    }

    private static Value aggregate(Interpreter in, Value v, Args a, String which) {
        a.expect(which, "case_sensitive", "attribute");
        boolean cs = flag(a, 0, "case_sensitive", false);
        Value attr = a.get(1, "attribute");
        List<Value> items = iterate(in, v);
        if (items.isEmpty()) return new Undefined("No aggregated item, sequence was empty.");
        Value best = null, bestKey = null;
        for (Value x : items) {
            Value k = lowerIfStr(attr == null || attr instanceof Value.None ? x : attribute(in, x, attr, null), cs);
            if (best == null || (which.equals("min") ? Py.compare(k, bestKey) < 0 : Py.compare(k, bestKey) > 0)) {
                best = x;
                bestKey = k;
            }
        }
        return best;
    }

    /** select/reject (by test on the item) and selectattr/rejectattr (by test on an attribute). */
    private static Value select(Interpreter in, Value v, Args a, boolean byAttr, boolean keep) {
        List<Value> pos = a.positional();
        Value attr = null;
        int at = 0;
        if (byAttr) {
            if (pos.isEmpty()) throw Py.typeError("Missing parameter for attribute name");
            attr = pos.getFirst();
            at = 1;
        }
        String test = pos.size() > at ? Py.str(pos.get(at)) : null;
        Args rest = new Args(pos.size() > at + 1 ? pos.subList(at + 1, pos.size()) : List.of(), a.keywords(), a.taintedNames());
        List<Value> out = new ArrayList<>();
        for (Value x : Py.truthy(v) ? iterate(in, v) : List.<Value>of()) {
            Value subject = byAttr ? attribute(in, x, attr, null) : x;
            boolean ok = test == null ? Py.truthy(subject) : in.test(test, subject, rest);
            if (ok == keep) out.add(x);
        }
        return list(in, out);
    }
}
