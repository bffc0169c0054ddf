package io.sluice.template;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The closed set of values a template computes with: Python's None, bool, int, float, str, list, tuple,
 * dict, plus Jinja's undefined, namespace, callables (macros, builtins, bound methods) and a few
 * interpreter objects (loop, cycler, joiner). Nothing else exists for a template: no Java object, class,
 * method or reflection is reachable, whatever it writes. Data enters only through {@link #of(Object)},
 * which copies plain JSON-like Java data and refuses anything else.
 */
public sealed interface Value permits Value.None, Value.Undefined, Value.Bool, Value.Int, Value.Real, Value.Str,
        Value.Seq, Value.Dict, Value.Namespace, Value.Func, Value.Obj {

    /** Python's None. */
    enum None implements Value { NONE }

    /** Jinja's (non-strict) undefined: prints as '', iterates as empty, is false; most other uses fail with {@code hint}. */
    record Undefined(String hint) implements Value {
    }

    record Bool(boolean value) implements Value {
        public static final Bool TRUE = new Bool(true);
        public static final Bool FALSE = new Bool(false);

        public static Bool of(boolean b) {
            return b ? TRUE : FALSE;
        }
    }

    /** Python int, as 64 bits: arithmetic that would overflow is an error rather than a silent wrap. */
    record Int(long value) implements Value {
    }

    /** Python float. */
    record Real(double value) implements Value {
    }

    /**
     * Python str. {@code markup} marks MarkupSafe's Markup (from |safe and |escape): concatenating a plain
     * string to it with + HTML-escapes the plain one, as Jinja does; some templates rely on that.
     * {@code taint} ({@link Taint}) marks the characters that came from untrusted data; it is invisible to
     * templates (equality, hashing and every operation ignore it) and only says how the output is tokenized.
     * A string a builtin makes from untrusted input is untrusted (see {@code Interpreter.birthTaint}).
     */
    final class Str implements Value {
        public static final Str EMPTY = new Str("", false, null);
        private final String value;
        private final boolean markup;
        private final int[] taint;

        public Str(String value) {
            this(value, false, Interpreter.birthTaint(value.length()));
        }

        private Str(String value, boolean markup, int[] taint) {
            this.value = value;
            this.markup = markup;
            this.taint = taint;
        }

        public static Str markup(String value) {
            return new Str(value, true, Interpreter.birthTaint(value.length()));
        }

        /** A string with exactly this taint (null: trusted). */
        static Str of(String value, int[] taint) {
            return new Str(value, false, taint);
        }

        static Str markupOf(String value, int[] taint) {
            return new Str(value, true, taint);
        }

        /**
         * Text the caller vouches for, trusted even inside untrusted data (e.g. a message's role when it is
         * one of the API's fixed role names).
         */
        public static Str trusted(String value) {
            return new Str(value, false, null);
        }

        /** Wholly untrusted text (request data). */
        public static Str untrusted(String value) {
            return new Str(value, false, Taint.full(value.length()));
        }

        public String value() {
            return value;
        }

        public boolean isMarkup() {
            return markup;
        }

        /** The untrusted char ranges ({@link Taint}), or null when every char is trusted. */
        int[] taint() {
            return taint;
        }

        public boolean isTainted() {
            return taint != null;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Str s && s.value.equals(value);
        }

        @Override
        public int hashCode() {
            return value.hashCode();
        }

        @Override
        public String toString() {
            return value;
        }
    }

    /** A Python list (mutable through list methods) or tuple. Equality/hash are structural, for tuple dict keys. */
    final class Seq implements Value {
        public final ArrayList<Value> items;
        public final boolean tuple;

        public Seq(ArrayList<Value> items, boolean tuple) {
            this.items = items;
            this.tuple = tuple;
        }

        public static Seq list(List<Value> items) {
            return new Seq(new ArrayList<>(items), false);
        }

        public static Seq tuple(Value... items) {
            return new Seq(new ArrayList<>(List.of(items)), true);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Seq s && s.tuple == tuple && s.items.equals(items);
        }

        @Override
        public int hashCode() {
            return items.hashCode() * 31 + (tuple ? 1 : 0);
        }

        @Override
        public String toString() {
            return Py.repr(this);
        }
    }

    /** A Python dict (insertion-ordered). */
    final class Dict implements Value {
        public final LinkedHashMap<Value, Value> map;

        public Dict(LinkedHashMap<Value, Value> map) {
            this.map = map;
        }

        public Dict() {
            this(new LinkedHashMap<>());
        }

        public Value get(String key) {
            return map.get(new Str(key));
        }

        @Override
        public String toString() {
            return Py.repr(this);
        }
    }

    /** Jinja's namespace(): the one object whose attributes a template may assign ({@code set ns.x = ...}). */
    final class Namespace implements Value {
        public final LinkedHashMap<String, Value> attrs = new LinkedHashMap<>();
    }

    /** Anything callable: builtins, macros, bound methods. */
    final class Func implements Value {
        /** The call itself; {@code in} is the running render (limits, callbacks). */
        @FunctionalInterface
        public interface Impl {
            Value call(Interpreter in, Args args);
        }

        public final String name;
        public final String kind; // for repr: "function", "macro", "method"
        final Impl impl;
        /** The receiver a bound method reads (its taint counts as the call's input), or null. */
        final Value self;

        public Func(String name, String kind, Impl impl) {
            this(name, kind, impl, null);
        }

        Func(String name, String kind, Impl impl, Value self) {
            this.name = name;
            this.kind = kind;
            this.impl = impl;
            this.self = self;
        }

        public static Func builtin(String name, Impl impl) {
            return new Func(name, "function", impl);
        }
    }

    /** Interpreter objects with read-only attributes (loop, cycler, joiner). */
    non-sealed interface Obj extends Value {
        /** The attribute, or null when there is none. */
        Value attr(String name);

        String typeName();
    }

    // ---- data from Java ----

    /** Nesting deeper than this in data handed to a template is refused (it could only be hostile). */
    int MAX_DATA_DEPTH = 512;

    /**
     * Copies plain Java data into template values: null, String/CharSequence, Boolean, integral and
     * floating-point Numbers, Map (keys as values of their own), List/Iterable/arrays of Object, and Values.
     * Anything else is refused: templates never see Java objects.
     *
     * @throws IllegalArgumentException for an unsupported type or nesting deeper than {@link #MAX_DATA_DEPTH}
     */
    static Value of(Object o) {
        return of(o, 0, false);
    }

    /**
     * Like {@link #of(Object)}, with every string in it (dict keys included) marked untrusted: request data,
     * whose text is never tokenized as special tokens. Values given as Values keep their own taint (a
     * {@link Str} made outside a render is trusted: see {@link Str#trusted}).
     */
    static Value untrusted(Object o) {
        return of(o, 0, true);
    }

    private static Value of(Object o, int depth, boolean untrusted) {
        if (depth > MAX_DATA_DEPTH) throw new IllegalArgumentException("template data nested deeper than " + MAX_DATA_DEPTH + " levels");
        return switch (o) {
            case null -> None.NONE;
            case Value v -> v;
            case CharSequence s -> untrusted ? Str.untrusted(s.toString()) : Str.of(s.toString(), null);
            case Boolean b -> Bool.of(b);
            case Integer i -> new Int(i);
            case Long l -> new Int(l);
            case Short s -> new Int(s);
            case Byte b -> new Int(b);
            case BigInteger b -> b.bitLength() < 64 ? new Int(b.longValue()) : new Real(b.doubleValue());
            case BigDecimal b -> new Real(b.doubleValue());
            case Double d -> new Real(d);
            case Float f -> new Real(f);
            case Map<?, ?> m -> {
                LinkedHashMap<Value, Value> out = LinkedHashMap.newLinkedHashMap(m.size());
                for (var e : m.entrySet()) out.put(of(e.getKey(), depth + 1, untrusted), of(e.getValue(), depth + 1, untrusted));
                yield new Dict(out);
            }
            case Object[] a -> {
                ArrayList<Value> out = new ArrayList<>(a.length);
                for (Object x : a) out.add(of(x, depth + 1, untrusted));
                yield new Seq(out, false);
            }
            case Iterable<?> it -> {
                ArrayList<Value> out = new ArrayList<>();
                for (Object x : it) out.add(of(x, depth + 1, untrusted));
                yield new Seq(out, false);
            }
            default -> throw new IllegalArgumentException("template data cannot hold a " + o.getClass().getSimpleName()
                    + " (only null, strings, booleans, numbers, maps and lists)");
        };
    }

    /** Python's str() of this value, as {{ value }} prints it. */
    default String str() {
        return Py.str(this);
    }
}
