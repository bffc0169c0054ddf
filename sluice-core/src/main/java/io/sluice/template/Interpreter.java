package io.sluice.template;

import io.sluice.template.Node.Expr;
import io.sluice.template.Node.Target;
import io.sluice.template.Value.Bool;
import io.sluice.template.Value.Dict;
import io.sluice.template.Value.Func;
import io.sluice.template.Value.Int;
import io.sluice.template.Value.Namespace;
import io.sluice.template.Value.Obj;
import io.sluice.template.Value.Seq;
import io.sluice.template.Value.Str;
import io.sluice.template.Value.Undefined;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One render of a parsed template: walks the syntax tree over {@link Value}s with Jinja2's scoping
 * (a fresh scope per loop iteration, macros closing over the scope they were defined in), and counts
 * everything against the {@link TemplateLimits}. Single-use, single-threaded.
 */
public final class Interpreter {
    /** What a list/dict element costs against the allocation budget, in characters (a reference and its share of the array). */
    static final int ELEMENT_COST = 4;

    private static final int NORMAL = 0, BREAK = 1, CONTINUE = 2;

    private final TemplateLimits limits;
    private final long deadline;
    private long steps;
    private long allocated;
    private int depth;
    private Taint.Buf out = new Taint.Buf();
    /** The innermost builtin call running (null: template code): its inputs decide the taint of strings born in it. */
    private TaintScope scope;

    /** The render running on this thread, for {@link #birthTaint}. */
    private static final ThreadLocal<Interpreter> CURRENT = new ThreadLocal<>();

    /**
     * The inputs of one builtin call (a filter, method, function, or an operator on values). Any string
     * the call makes from Java text ({@code new Str(...)}) is wholly untrusted when any of its inputs holds
     * an untrusted character - the default that keeps every builtin safe without knowing what it does.
     * Builtins that keep taint per character (concatenation, join, trim, slicing, ...) build their result
     * with an explicit taint instead. Decided lazily: most calls make no string at all.
     */
    private static final class TaintScope {
        final Value a, b;
        final Args args;
        int state; // 0 unknown, 1 trusted, 2 tainted

        TaintScope(Value a, Value b, Args args) {
            this.a = a;
            this.b = b;
            this.args = args;
        }

        boolean tainted(Interpreter in) {
            if (state == 0) {
                java.util.IdentityHashMap<Value, Boolean> seen = new java.util.IdentityHashMap<>();
                boolean t = in.holdsTaint(a, seen, 0) || in.holdsTaint(b, seen, 0);
                if (!t && args != null) {
                    t = args.taintedNames();
                    for (Value v : args.positional()) t = t || in.holdsTaint(v, seen, 0);
                    for (Value v : args.keywords().values()) t = t || in.holdsTaint(v, seen, 0);
                }
                state = t ? 2 : 1;
            }
            return state == 2;
        }
    }

    /** The taint of a new string of {@code len} chars made from Java text: see {@link TaintScope}. */
    static int[] birthTaint(int len) {
        if (len == 0) return null;
        Interpreter in = CURRENT.get();
        return in != null && in.scope != null && in.scope.tainted(in) ? Taint.full(len) : null;
    }

    /** Whether {@code v} holds an untrusted character anywhere (what it contains, a bound method's receiver). */
    boolean holdsTaint(Value v, java.util.IdentityHashMap<Value, Boolean> seen, int depth) {
        if (v == null) return false;
        if (depth > Value.MAX_DATA_DEPTH) return true; // cannot tell: assume the worst
        return switch (v) {
            case Str s -> s.isTainted();
            case Seq q -> {
                if (seen.put(q, Boolean.TRUE) != null) yield false;
                work(q.items.size());
                for (Value x : q.items) if (holdsTaint(x, seen, depth + 1)) yield true;
                yield false;
            }
            case Dict d -> {
                if (seen.put(d, Boolean.TRUE) != null) yield false;
                work(d.map.size());
                for (var e : d.map.entrySet()) if (holdsTaint(e.getKey(), seen, depth + 1) || holdsTaint(e.getValue(), seen, depth + 1)) yield true;
                yield false;
            }
            case Namespace ns -> {
                if (seen.put(ns, Boolean.TRUE) != null) yield false;
                work(ns.attrs.size());
                for (Value x : ns.attrs.values()) if (holdsTaint(x, seen, depth + 1)) yield true;
                yield false;
            }
            case Func f -> holdsTaint(f.self, seen, depth + 1);
            case Loop l -> {
                if (seen.put(l, Boolean.TRUE) != null) yield false;
                for (Value x : l.items) if (holdsTaint(x, seen, depth + 1)) yield true;
                yield false;
            }
            case Cycler c -> {
                if (seen.put(c, Boolean.TRUE) != null) yield false;
                for (Value x : c.items) if (holdsTaint(x, seen, depth + 1)) yield true;
                yield false;
            }
            default -> false;
        };
    }

    /** Python's str() of {@code v} with provenance: a string as it is; anything else untrusted when it holds untrusted text. */
    Str strOf(Value v) {
        if (v instanceof Str s) return s;
        String s = Py.str(v);
        return Str.of(s, !s.isEmpty() && holdsTaint(v, new java.util.IdentityHashMap<>(), 0) ? Taint.full(s.length()) : null);
    }

    /** Runs {@code body} as a builtin call on these inputs (see {@link TaintScope}). */
    private <T> T scoped(Value a, Value b, Args args, java.util.function.Supplier<T> body) {
        TaintScope saved = scope;
        scope = new TaintScope(a, b, args);
        try {
            return body.get();
        } finally {
            scope = saved;
        }
    }

    /** Runs template code (a macro body) from inside a builtin: strings it makes are judged by their own calls. */
    private <T> T unscoped(java.util.function.Supplier<T> body) {
        TaintScope saved = scope;
        scope = null;
        try {
            return body.get();
        } finally {
            scope = saved;
        }
    }

    /** Variables of one block level; lookups walk the parents. */
    private static final class Scope {
        final HashMap<String, Value> vars = new HashMap<>(8);
        final Scope parent;

        Scope(Scope parent) {
            this.parent = parent;
        }

        Value lookup(String name) {
            for (Scope s = this; s != null; s = s.parent) {
                Value v = s.vars.get(name);
                if (v != null) return v;
            }
            return null;
        }
    }

    private Interpreter(TemplateLimits limits) {
        this.limits = limits;
        this.deadline = System.nanoTime() + limits.maxTime().toNanos();
    }

    static Rendered render(List<Node> body, Map<String, Value> vars, TemplateLimits limits) {
        Interpreter in = new Interpreter(limits);
        Interpreter previous = CURRENT.get();
        CURRENT.set(in);
        Scope globals = new Scope(null);
        globals.vars.putAll(Builtins.GLOBALS);
        globals.vars.put("self", SELF);
        globals.vars.putAll(vars);
        try {
            in.exec(body, new Scope(globals));
        } catch (StackOverflowError e) {
            throw new TemplateLimitException(TemplateLimits.Limit.DEPTH, "template recursion too deep for the renderer's stack", 0);
        } finally {
            if (previous == null) CURRENT.remove();
            else CURRENT.set(previous);
        }
        return new Rendered(in.out.sb.toString(), in.out.taint());
    }

    public TemplateLimits limits() {
        return limits;
    }

    // ---- budgets ----

    private void step() {
        if (++steps > limits.maxSteps()) throw limit(TemplateLimits.Limit.STEPS, "template took more than " + limits.maxSteps() + " steps");
        if ((steps & 255) == 0) checkTime();
    }

    /** Charges work proportional to a builtin's input (a scan, a sort comparison), like steps. */
    void work(long n) {
        steps += n;
        if (steps > limits.maxSteps() || steps < 0) throw limit(TemplateLimits.Limit.STEPS, "template took more than " + limits.maxSteps() + " steps");
        if (n > 256) checkTime();
    }

    private void checkTime() {
        if (System.nanoTime() - deadline > 0) throw limit(TemplateLimits.Limit.TIME, "template rendering took longer than " + limits.maxTime().toMillis() + " ms");
        if (Thread.currentThread().isInterrupted()) throw limit(TemplateLimits.Limit.TIME, "template rendering was interrupted");
    }

    /** Charges characters (or element costs) about to be allocated; called before building big values. */
    void charge(long n) {
        allocated += n;
        if (n > limits.maxAllocChars() || allocated > limits.maxAllocChars() || allocated < 0) {
            throw limit(TemplateLimits.Limit.MEMORY, "template allocated more than " + limits.maxAllocChars() + " characters");
        }
    }

    private static TemplateLimitException limit(TemplateLimits.Limit l, String message) {
        return new TemplateLimitException(l, message, 0);
    }

    /** Template text: trusted. */
    private void emit(String s) {
        emit(s, null);
    }

    /** {{ value }}: a string keeps its taint; anything else prints untrusted when it holds untrusted text. */
    private void emit(Value v) {
        if (v instanceof Str s) emit(s.value(), s.taint());
        else {
            String s = Py.str(v);
            emit(s, !s.isEmpty() && holdsTaint(v, new java.util.IdentityHashMap<>(), 0) ? Taint.full(s.length()) : null);
        }
    }

    private void emit(String s, int[] taint) {
        if (s.isEmpty()) return;
        charge(s.length());
        if ((long) out.length() + s.length() > limits.maxOutputChars()) {
            throw limit(TemplateLimits.Limit.OUTPUT, "template output longer than " + limits.maxOutputChars() + " characters");
        }
        out.append(s, taint);
    }

    private Str capture(List<Node> body, Scope sc) {
        Taint.Buf saved = out;
        out = new Taint.Buf();
        try {
            exec(body, sc);
            return out.toStr();
        } finally {
            out = saved;
        }
    }

    // ---- statements ----

    private int exec(List<Node> body, Scope sc) {
        for (Node n : body) {
            int signal = exec(n, sc);
            if (signal != NORMAL) return signal;
        }
        return NORMAL;
    }

    private int exec(Node node, Scope sc) {
        step();
        try {
            switch (node) {
                case Node.Text t -> emit(t.text());
                case Node.Print p -> emit(eval(p.expr(), sc));
                case Node.If f -> {
                    for (int i = 0; i < f.tests().size(); i++) {
                        if (Py.truthy(eval(f.tests().get(i), sc))) return exec(f.bodies().get(i), sc);
                    }
                    return exec(f.orElse(), sc);
                }
                case Node.For f -> {
                    return loop(f, sc, eval(f.iter(), sc), 0);
                }
                case Node.Set s -> assign(s.target(), eval(s.value(), sc), sc);
                case Node.SetBlock s -> {
                    Value v = capture(s.body(), sc);
                    for (Expr.Filter f : s.filters()) v = filter(f.name(), v, args(f.args(), sc));
                    assign(s.target(), v, sc);
                }
                case Node.Macro m -> sc.vars.put(m.name(), macro(m, sc));
                case Node.CallBlock c -> emit(call(c.call(), sc, macro(c.caller(), sc)));
                case Node.FilterBlock f -> {
                    Value v = capture(f.body(), sc);
                    for (Expr.Filter x : f.filters()) v = filter(x.name(), v, args(x.args(), sc));
                    emit(v);
                }
                case Node.With w -> {
                    List<Value> values = new ArrayList<>();
                    for (Expr e : w.values()) values.add(eval(e, sc));
                    Scope inner = new Scope(sc);
                    for (int i = 0; i < values.size(); i++) assign(w.targets().get(i), values.get(i), inner);
                    return exec(w.body(), inner);
                }
                case Node.Block b -> {
                    return exec(b.body(), sc);
                }
                case Node.Do d -> eval(d.expr(), sc);
                case Node.Break b -> {
                    return BREAK;
                }
                case Node.Continue c -> {
                    return CONTINUE;
                }
            }
            return NORMAL;
        } catch (TemplateException e) {
            throw e.line() == 0 ? e.withLine(node.line()) : e;
        }
    }

    private int loop(Node.For f, Scope sc, Value iterable, int loopDepth) {
        if (iterable instanceof Value.None) throw Py.typeError("'NoneType' object is not iterable");
        List<Value> items = iterable instanceof Str ? scoped(iterable, null, null, () -> Py.iterate(iterable)) : Py.iterate(iterable);
        work(items.size());
        if (f.filter() != null) {
            List<Value> kept = new ArrayList<>();
            for (Value item : items) {
                Scope probe = new Scope(sc);
                assign(f.target(), item, probe);
                if (Py.truthy(eval(f.filter(), probe))) kept.add(item);
            }
            items = kept;
        }
        if (items.isEmpty()) return exec(f.orElse(), sc);
        Loop loop = new Loop(this, f, sc, items, loopDepth);
        for (int i = 0; i < items.size(); i++) {
            Scope it = new Scope(sc);
            loop.index0 = i;
            it.vars.put("loop", loop);
            assign(f.target(), items.get(i), it);
            if (exec(f.body(), it) == BREAK) break;
        }
        return NORMAL;
    }

    private void assign(Target t, Value v, Scope sc) {
        switch (t) {
            case Target.Name n -> sc.vars.put(n.name(), v);
            case Target.NsAttr a -> {
                if (!(sc.lookup(a.namespace()) instanceof Namespace ns)) throw Py.typeError("cannot assign attribute on non-namespace object");
                ns.attrs.put(a.attr(), v);
            }
            case Target.Tuple tu -> {
                List<Value> items = scoped(v, null, null, () -> Py.iterate(v));
                if (items.size() != tu.items().size()) {
                    throw Py.typeError(items.size() > tu.items().size() ? "too many values to unpack (expected " + tu.items().size() + ")"
                            : "not enough values to unpack (expected " + tu.items().size() + ", got " + items.size() + ")");
                }
                for (int i = 0; i < items.size(); i++) assign(tu.items().get(i), items.get(i), sc);
            }
        }
    }

    private Func macro(Node.Macro m, Scope defined) {
        return new Func(m.name(), "macro", (in, a) -> in.invoke(m, defined, a));
    }

    private Value invoke(Node.Macro m, Scope defined, Args a) {
        return unscoped(() -> invokeBody(m, defined, a));
    }

    private Value invokeBody(Node.Macro m, Scope defined, Args a) {
        if (++depth > limits.maxDepth()) {
            depth--;
            throw limit(TemplateLimits.Limit.DEPTH, "macro calls nested deeper than " + limits.maxDepth());
        }
        try {
            Scope sc = new Scope(defined);
            Map<String, Value> kw = new LinkedHashMap<>(a.keywords());
            Value caller = kw.remove("caller");
            List<Node.Param> params = m.params();
            for (int i = 0; i < params.size(); i++) {
                Node.Param p = params.get(i);
                Value v;
                if (i < a.size()) {
                    if (kw.containsKey(p.name())) throw Py.typeError("macro '" + m.name() + "' got multiple values for argument '" + p.name() + "'");
                    v = a.positional().get(i);
                } else {
                    v = kw.remove(p.name());
                }
                if (v == null) v = p.dflt() != null ? eval(p.dflt(), sc) : new Undefined("parameter '" + p.name() + "' was not provided");
                sc.vars.put(p.name(), v);
            }
            if (a.size() > params.size()) {
                if (!m.usesVarargs()) throw Py.typeError("macro '" + m.name() + "' takes not more than " + params.size() + " argument(s)");
                sc.vars.put("varargs", new Seq(new ArrayList<>(a.positional().subList(params.size(), a.size())), true));
            } else if (m.usesVarargs()) {
                sc.vars.put("varargs", Seq.tuple());
            }
            if (!kw.isEmpty()) {
                if (!m.usesKwargs()) throw Py.typeError("macro '" + m.name() + "' takes no keyword argument '" + kw.keySet().iterator().next() + "'");
                LinkedHashMap<Value, Value> d = new LinkedHashMap<>();
                kw.forEach((k, v) -> d.put(a.taintedNames() ? Str.untrusted(k) : Str.of(k, null), v));
                sc.vars.put("kwargs", new Dict(d));
            } else if (m.usesKwargs()) {
                sc.vars.put("kwargs", new Dict());
            }
            if (caller != null) {
                if (!m.usesCaller()) throw Py.typeError("macro '" + m.name() + "' takes no keyword argument 'caller'");
                sc.vars.put("caller", caller);
            }
            return capture(m.body(), sc);
        } finally {
            depth--;
        }
    }

    // ---- expressions ----

    private Value eval(Expr e, Scope sc) {
        step();
        return switch (e) {
            case Expr.Const c -> c.value();
            case Expr.Name n -> {
                Value v = sc.lookup(n.name());
                yield v != null ? v : new Undefined("'" + n.name() + "' is undefined");
            }
            case Expr.ListLit l -> {
                charge((long) l.items().size() * ELEMENT_COST);
                ArrayList<Value> items = new ArrayList<>(l.items().size());
                for (Expr x : l.items()) items.add(eval(x, sc));
                yield new Seq(items, false);
            }
            case Expr.TupleLit t -> {
                charge((long) t.items().size() * ELEMENT_COST);
                ArrayList<Value> items = new ArrayList<>(t.items().size());
                for (Expr x : t.items()) items.add(eval(x, sc));
                yield new Seq(items, true);
            }
            case Expr.DictLit d -> {
                charge((long) d.keys().size() * 2 * ELEMENT_COST);
                LinkedHashMap<Value, Value> m = new LinkedHashMap<>();
                for (int i = 0; i < d.keys().size(); i++) {
                    Value k = hashable(eval(d.keys().get(i), sc));
                    if (Py.isNumber(k)) for (Value old : m.keySet()) if (Py.isNumber(old) && Py.eq(old, k)) k = old; // Python: 1, 1.0 and True are one key
                    m.put(k, eval(d.values().get(i), sc));
                }
                yield new Dict(m);
            }
            case Expr.GetAttr g -> getattr(eval(g.obj(), sc), g.name());
            case Expr.GetItem g -> {
                Value obj = eval(g.obj(), sc);
                if (g.key() instanceof Expr.Slice s) {
                    Value start = s.start() == null ? null : eval(s.start(), sc), stop = s.stop() == null ? null : eval(s.stop(), sc),
                            step = s.step() == null ? null : eval(s.step(), sc);
                    yield scoped(obj, null, null, () -> Py.slice(this, obj, start, stop, step));
                }
                Value key = eval(g.key(), sc);
                yield scoped(obj, key, null, () -> getitem(obj, key));
            }
            case Expr.Slice s -> throw Py.typeError("a slice is only valid inside [ ]");
            case Expr.Call c -> call(c, sc, null);
            case Expr.Filter f -> filter(f.name(), eval(f.value(), sc), args(f.args(), sc));
            case Expr.Test t -> Bool.of(test(t.name(), eval(t.value(), sc), args(t.args(), sc)) != t.negated());
            case Expr.Unary u -> u.op().equals("-") ? Py.neg(eval(u.operand(), sc)) : Py.pos(eval(u.operand(), sc));
            case Expr.Binary b -> {
                Value l = eval(b.left(), sc), r = eval(b.right(), sc);
                yield scoped(l, r, null, () -> binary(b.op(), l, r));
            }
            case Expr.And a -> {
                Value l = eval(a.left(), sc);
                yield Py.truthy(l) ? eval(a.right(), sc) : l;
            }
            case Expr.Or o -> {
                Value l = eval(o.left(), sc);
                yield Py.truthy(l) ? l : eval(o.right(), sc);
            }
            case Expr.Not n -> Bool.of(!Py.truthy(eval(n.operand(), sc)));
            case Expr.Compare c -> {
                Value left = eval(c.first(), sc);
                for (int i = 0; i < c.ops().size(); i++) {
                    Value right = eval(c.operands().get(i), sc);
                    if (!compare(c.ops().get(i), left, right)) yield Bool.FALSE;
                    left = right;
                }
                yield Bool.TRUE;
            }
            case Expr.Concat c -> {
                Taint.Buf sb = new Taint.Buf();
                for (Expr p : c.parts()) {
                    Value v = eval(p, sc);
                    String s = Py.str(v);
                    charge(s.length());
                    if (v instanceof Str x) sb.append(x);
                    else sb.append(s, !s.isEmpty() && holdsTaint(v, new java.util.IdentityHashMap<>(), 0));
                }
                yield sb.toStr();
            }
            case Expr.Cond c -> Py.truthy(eval(c.test(), sc)) ? eval(c.then(), sc)
                    : c.orElse() != null ? eval(c.orElse(), sc) : new Undefined("the inline if-expression evaluated to false and no else section was defined");
        };
    }

    private static Value hashable(Value k) {
        if (k instanceof Dict || (k instanceof Seq s && !s.tuple) || k instanceof Namespace) throw Py.typeError("unhashable type: '" + Py.typeName(k) + "'");
        return k;
    }

    private Value binary(String op, Value a, Value b) {
        return switch (op) {
            case "+" -> Py.add(this, a, b);
            case "-" -> Py.sub(a, b);
            case "*" -> Py.mul(this, a, b);
            case "/" -> Py.div(a, b);
            case "//" -> Py.floorDiv(a, b);
            case "%" -> Py.mod(this, a, b);
            case "**" -> Py.pow(a, b);
            default -> throw new IllegalStateException(op);
        };
    }

    private boolean compare(String op, Value a, Value b) {
        return switch (op) {
            case "==" -> Py.eq(a, b);
            case "!=" -> !Py.eq(a, b);
            case "<" -> Py.compare(a, b, op) < 0;
            case "<=" -> Py.compare(a, b, op) <= 0;
            case ">" -> Py.compare(a, b, op) > 0;
            case ">=" -> Py.compare(a, b, op) >= 0;
            case "in" -> {
                if (b instanceof Seq s) work(s.items.size());
                yield Py.contains(b, a);
            }
            case "not in" -> {
                if (b instanceof Seq s) work(s.items.size());
                yield !Py.contains(b, a);
            }
            default -> throw new IllegalStateException(op);
        };
    }

    private Args args(Expr.CallArgs ca, Scope sc) {
        if (ca == Expr.CallArgs.NONE) return Args.NONE;
        List<Value> pos = new ArrayList<>(ca.args().size());
        for (Expr x : ca.args()) pos.add(eval(x, sc));
        if (ca.dynArgs() != null) {
            Value dyn = eval(ca.dynArgs(), sc);
            pos.addAll(scoped(dyn, null, null, () -> Py.iterate(dyn)));
        }
        Map<String, Value> kw = new LinkedHashMap<>();
        for (int i = 0; i < ca.names().size(); i++) kw.put(ca.names().get(i), eval(ca.kwargs().get(i), sc));
        boolean taintedNames = false;
        if (ca.dynKwargs() != null) {
            for (var en : Py.dict(eval(ca.dynKwargs(), sc)).entrySet()) {
                if (!(en.getKey() instanceof Str k)) throw Py.typeError("keywords must be strings");
                kw.put(k.value(), en.getValue());
                taintedNames |= k.isTainted();
            }
        }
        return new Args(pos, kw, taintedNames);
    }

    private Value call(Expr.Call c, Scope sc, Func caller) {
        Value fn = eval(c.fn(), sc);
        Args a = args(c.args(), sc);
        if (caller != null) {
            Map<String, Value> kw = new LinkedHashMap<>(a.keywords());
            kw.put("caller", caller);
            a = new Args(a.positional(), kw, a.taintedNames());
        }
        if (fn instanceof Loop l) return l.recurse(a);
        return call(fn, a);
    }

    /** Calls a template callable (builtin, macro, bound method); anything else is not callable. */
    public Value call(Value fn, Args a) {
        return switch (fn) {
            case Func f when f.kind.equals("macro") -> f.impl.call(this, a);
            case Func f -> scoped(f.self, null, a, () -> f.impl.call(this, a));
            case Undefined u -> throw Py.undefinedError(u);
            default -> throw Py.typeError("'" + Py.typeName(fn) + "' object is not callable");
        };
    }

    Value filter(String name, Value v, Args a) {
        Builtins.Filter f = Builtins.FILTERS.get(name);
        if (f == null) throw Py.typeError("No filter named '" + name + "'.");
        return scoped(v, null, a, () -> f.apply(this, v, a));
    }

    boolean test(String name, Value v, Args a) {
        Builtins.Test t = Builtins.TESTS.get(name);
        if (t == null) throw Py.typeError("No test named '" + name + "'.");
        return scoped(v, null, a, () -> t.test(this, v, a));
    }

    /** {@code obj.name}: a Python attribute (method), else a dict key; missing is undefined. Underscore names are refused. */
    Value getattr(Value obj, String name) {
        // The sandbox's rule: underscore attributes do not exist for templates (printing one gives '', using it fails).
        if (name.startsWith("_") && !(obj instanceof Undefined)) return new Undefined("access to attribute '" + name + "' of '" + Py.typeName(obj) + "' object is unsafe.");
        return switch (obj) {
            case Undefined u -> throw Py.undefinedError(u);
            case Dict d -> {
                Func m = Methods.of(d, name);
                if (m != null) yield m;
                Value v = d.map.get(new Str(name));
                yield v != null ? v : missing(obj, name);
            }
            case Namespace ns -> {
                Value v = ns.attrs.get(name);
                yield v != null ? v : missing(obj, name);
            }
            case Obj o -> {
                Value v = o.attr(name);
                yield v != null ? v : missing(obj, name);
            }
            default -> {
                Func m = Methods.of(obj, name);
                yield m != null ? m : missing(obj, name);
            }
        };
    }

    /** {@code obj[key]}: an item (index, key), else an attribute named by a string key; missing is undefined. */
    Value getitem(Value obj, Value key) {
        switch (obj) {
            case Undefined u -> throw Py.undefinedError(u);
            case Seq s when Py.isIntegral(key) -> {
                Integer i = Py.index(Py.asLong(key), s.items.size());
                if (i != null) return s.items.get(i);
            }
            case Str s when Py.isIntegral(key) -> {
                Str c = PyStr.charAt(s.value(), Py.asLong(key));
                if (c != null) return c;
            }
            case Dict d -> {
                Value v = d.map.get(key);
                if (v == null && Py.isNumber(key)) {
                    for (var en : d.map.entrySet()) if (Py.eq(en.getKey(), key)) v = en.getValue();
                }
                if (v != null) return v;
            }
            default -> {
            }
        }
        if (key instanceof Str k && !k.value().startsWith("_")) {
            Value v = switch (obj) {
                case Namespace ns -> ns.attrs.get(k.value());
                case Obj o -> o.attr(k.value());
                default -> Methods.of(obj, k.value());
            };
            if (v != null) return v;
        }
        return noAttribute(obj, key instanceof Str k ? "'" + k.value() + "'" : Py.repr(key));
    }

    private static Undefined missing(Value obj, String name) {
        return noAttribute(obj, "'" + name + "'");
    }

    private static Undefined noAttribute(Value obj, String quotedName) {
        return new Undefined(Py.objectDescription(obj) + " has no attribute " + quotedName);
    }

    // ---- interpreter objects ----

    /** Jinja's {@code self} (the template reference): here an object with no attributes. */
    private static final Obj SELF = new Obj() {
        @Override
        public Value attr(String name) {
            return null;
        }

        @Override
        public String typeName() {
            return "TemplateReference";
        }
    };

    /** The {@code loop} variable of a for loop. */
    static final class Loop implements Obj {
        private final Interpreter in;
        private final Node.For node;
        private final Scope scope;
        final List<Value> items;
        private final int depth0;
        int index0;
        private Value lastChanged;

        Loop(Interpreter in, Node.For node, Scope scope, List<Value> items, int depth0) {
            this.in = in;
            this.node = node;
            this.scope = scope;
            this.items = items;
            this.depth0 = depth0;
        }

        @Override
        public String typeName() {
            return "LoopContext";
        }

        @Override
        public Value attr(String name) {
            int n = items.size();
            return switch (name) {
                case "index" -> new Int(index0 + 1);
                case "index0" -> new Int(index0);
                case "revindex" -> new Int(n - index0);
                case "revindex0" -> new Int(n - index0 - 1);
                case "first" -> Bool.of(index0 == 0);
                case "last" -> Bool.of(index0 == n - 1);
                case "length" -> new Int(n);
                case "depth" -> new Int(depth0 + 1);
                case "depth0" -> new Int(depth0);
                case "previtem" -> index0 > 0 ? items.get(index0 - 1) : new Undefined("there is no previous item");
                case "nextitem" -> index0 < n - 1 ? items.get(index0 + 1) : new Undefined("there is no next item");
                case "cycle" -> Func.builtin("cycle", (i, a) -> {
                    if (a.size() == 0) throw Py.typeError("no items for cycling given");
                    return a.positional().get(index0 % a.size());
                });
                case "changed" -> Func.builtin("changed", (i, a) -> {
                    Value now = new Seq(new ArrayList<>(a.positional()), true);
                    boolean changed = lastChanged == null || !Py.eq(lastChanged, now);
                    lastChanged = now;
                    return Bool.of(changed);
                });
                default -> null;
            };
        }

        /** {@code loop(children)} inside a recursive loop: renders the loop body over them, one level deeper. */
        Value recurse(Args a) {
            if (!node.recursive()) throw Py.typeError("'LoopContext' object is not callable: the loop is not recursive");
            if (a.size() != 1) throw Py.typeError("loop() takes exactly one argument");
            if (in.depth + 1 > in.limits.maxDepth()) throw limit(TemplateLimits.Limit.DEPTH, "recursive loop nested deeper than " + in.limits.maxDepth());
            in.depth++;
            Taint.Buf saved = in.out;
            in.out = new Taint.Buf();
            try {
                in.unscoped(() -> in.loop(node, scope, a.positional().getFirst(), depth0 + 1));
                return in.out.toStr();
            } finally {
                in.out = saved;
                in.depth--;
            }
        }
    }

    /** Jinja's cycler(*items). */
    static final class Cycler implements Obj {
        final List<Value> items;
        private int pos;

        Cycler(List<Value> items) {
            if (items.isEmpty()) throw Py.typeError("at least one item has to be provided");
            this.items = List.copyOf(items);
        }

        @Override
        public String typeName() {
            return "Cycler";
        }

        @Override
        public Value attr(String name) {
            return switch (name) {
                case "current" -> items.get(pos);
                case "next" -> Func.builtin("next", (i, a) -> {
                    Value v = items.get(pos);
                    pos = (pos + 1) % items.size();
                    return v;
                });
                case "reset" -> Func.builtin("reset", (i, a) -> {
                    pos = 0;
                    return Value.None.NONE;
                });
                default -> null;
            };
        }
    }
}
