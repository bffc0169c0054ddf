package io.sluice.template;

import java.util.List;

/** The template's syntax tree: statements and expressions, each with its source line. */
sealed interface Node {
    int line();

    // ---- statements ----

    record Text(int line, String text) implements Node {
    }

    record Print(int line, Expr expr) implements Node {
    }

    record If(int line, List<Expr> tests, List<List<Node>> bodies, List<Node> orElse) implements Node {
    }

    record For(int line, Target target, Expr iter, Expr filter, List<Node> body, List<Node> orElse, boolean recursive) implements Node {
    }

    record Set(int line, Target target, Expr value) implements Node {
    }

    record SetBlock(int line, Target target, List<Expr.Filter> filters, List<Node> body) implements Node {
    }

    record Macro(int line, String name, List<Param> params, List<Node> body, boolean usesVarargs, boolean usesKwargs,
                 boolean usesCaller) implements Node {
    }

    record CallBlock(int line, Macro caller, Expr.Call call) implements Node {
    }

    record FilterBlock(int line, List<Expr.Filter> filters, List<Node> body) implements Node {
    }

    record With(int line, List<Target> targets, List<Expr> values, List<Node> body) implements Node {
    }

    /** {% generation %} (Hugging Face's assistant-mask marker): renders its body unchanged. */
    record Block(int line, List<Node> body) implements Node {
    }

    record Do(int line, Expr expr) implements Node {
    }

    record Break(int line) implements Node {
    }

    record Continue(int line) implements Node {
    }

    record Param(String name, Expr dflt) {
    }

    /** Assignment targets: a name, a namespace attribute, or a tuple of targets. */
    sealed interface Target {
        record Name(String name) implements Target {
        }

        record NsAttr(String namespace, String attr) implements Target {
        }

        record Tuple(List<Target> items) implements Target {
        }
    }

    // ---- expressions ----

    sealed interface Expr {
        int line();

        record Const(int line, Value value) implements Expr {
        }

        record Name(int line, String name) implements Expr {
        }

        record ListLit(int line, List<Expr> items) implements Expr {
        }

        record TupleLit(int line, List<Expr> items) implements Expr {
        }

        record DictLit(int line, List<Expr> keys, List<Expr> values) implements Expr {
        }

        record GetAttr(int line, Expr obj, String name) implements Expr {
        }

        record GetItem(int line, Expr obj, Expr key) implements Expr {
        }

        record Slice(int line, Expr start, Expr stop, Expr step) implements Expr {
        }

        record CallArgs(List<Expr> args, List<String> names, List<Expr> kwargs, Expr dynArgs, Expr dynKwargs) {
            static final CallArgs NONE = new CallArgs(List.of(), List.of(), List.of(), null, null);
        }

        record Call(int line, Expr fn, CallArgs args) implements Expr {
        }

        /** value|name(args); value is null inside filter blocks and set blocks (the body is the input). */
        record Filter(int line, Expr value, String name, CallArgs args) implements Expr {
        }

        record Test(int line, Expr value, String name, CallArgs args, boolean negated) implements Expr {
        }

        record Unary(int line, String op, Expr operand) implements Expr {
        }

        record Binary(int line, String op, Expr left, Expr right) implements Expr {
        }

        record And(int line, Expr left, Expr right) implements Expr {
        }

        record Or(int line, Expr left, Expr right) implements Expr {
        }

        record Not(int line, Expr operand) implements Expr {
        }

        record Compare(int line, Expr first, List<String> ops, List<Expr> operands) implements Expr {
        }

        record Concat(int line, List<Expr> parts) implements Expr {
        }

        record Cond(int line, Expr test, Expr then, Expr orElse) implements Expr {
        }
    }
}
