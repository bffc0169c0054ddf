package io.sluice.template;

import io.sluice.template.Lexer.Kind;
import io.sluice.template.Lexer.Tok;
import io.sluice.template.Node.Expr;
import io.sluice.template.Node.Target;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** Jinja2's grammar and operator precedence, over {@link Lexer}'s tokens, into {@link Node}s. */
final class Parser {
    /** Nesting (of expressions and of blocks) beyond this is refused, so parsing cannot overflow the stack. */
    static final int MAX_NESTING = 200;

    private static final Set<String> COMPARE = Set.of("==", "!=", "<", "<=", ">", ">=");

    private final List<Tok> toks;
    private int i;
    private int depth;
    private int loops;
    private final Deque<Set<String>> macroNames = new ArrayDeque<>();

    private Parser(List<Tok> toks) {
        this.toks = toks;
    }

    static List<Node> parse(String source) {
        Parser p = new Parser(Lexer.tokenize(source));
        List<Node> body = p.subparse(null);
        if (p.cur().kind() != Kind.EOF) throw p.error("unexpected '" + p.cur().text() + "'");
        return body;
    }

    // ---- token stream ----

    private Tok cur() {
        return toks.get(i);
    }

    private Tok look() {
        return toks.get(Math.min(i + 1, toks.size() - 1));
    }

    private Tok next() {
        Tok t = toks.get(i);
        if (i < toks.size() - 1) i++;
        return t;
    }

    private TemplateSyntaxException error(String message) {
        return new TemplateSyntaxException(message, cur().line());
    }

    private static String describe(Tok t) {
        return switch (t.kind()) {
            case EOF -> "end of template";
            case BLOCK_END -> "end of statement block";
            case VAR_END -> "end of print statement";
            case DATA -> "template data";
            default -> t.text();
        };
    }

    private Tok expect(Kind k) {
        if (cur().kind() != k) throw error("expected " + k.name().toLowerCase().replace('_', ' ') + ", got '" + describe(cur()) + "'");
        return next();
    }

    private Tok expectOp(String op) {
        if (!cur().isOp(op)) throw error("expected '" + op + "', got '" + describe(cur()) + "'");
        return next();
    }

    private void expectName(String name) {
        if (!cur().isName(name)) throw error("expected '" + name + "', got '" + describe(cur()) + "'");
        next();
    }

    private boolean skipOp(String op) {
        if (cur().isOp(op)) {
            next();
            return true;
        }
        return false;
    }

    private boolean skipName(String name) {
        if (cur().isName(name)) {
            next();
            return true;
        }
        return false;
    }

    private void enter() {
        if (++depth > MAX_NESTING) throw error("template nested more than " + MAX_NESTING + " levels deep");
    }

    private void leave() {
        depth--;
    }

    // ---- statements ----

    private List<Node> subparse(Set<String> endTokens) {
        List<Node> body = new ArrayList<>();
        while (true) {
            Tok t = cur();
            switch (t.kind()) {
                case DATA -> {
                    body.add(new Node.Text(t.line(), t.text()));
                    next();
                }
                case VAR_BEGIN -> {
                    next();
                    body.add(new Node.Print(t.line(), parseTuple(false, true, null, false)));
                    expect(Kind.VAR_END);
                }
                case BLOCK_BEGIN -> {
                    next();
                    if (endTokens != null && cur().kind() == Kind.NAME && endTokens.contains(cur().text())) return body;
                    Node n = parseStatement();
                    if (n != null) body.add(n);
                    expect(Kind.BLOCK_END);
                }
                case EOF -> {
                    return body;
                }
                default -> throw error("unexpected '" + describe(t) + "'");
            }
        }
    }

    private List<Node> parseStatements(Set<String> endTokens, boolean dropNeedle) {
        skipOp(":");
        expect(Kind.BLOCK_END);
        List<Node> body = subparse(endTokens);
        if (cur().kind() == Kind.EOF) {
            throw error("unexpected end of template: Jinja was looking for " + String.join(" or ", endTokens.stream().map(s -> "'" + s + "'").sorted().toList()));
        }
        if (dropNeedle) next();
        return body;
    }

    private Node parseStatement() {
        Tok t = cur();
        if (t.kind() != Kind.NAME) throw error("tag name expected");
        enter();
        try {
            return switch (t.text()) {
                case "for" -> parseFor();
                case "if" -> parseIf();
                case "set" -> parseSet();
                case "macro" -> parseMacro();
                case "call" -> parseCallBlock();
                case "filter" -> parseFilterBlock();
                case "with" -> parseWith();
                case "print" -> parsePrint();
                case "do" -> {
                    next();
                    yield new Node.Do(t.line(), parseTuple(false, true, null, false));
                }
                case "generation" -> {
                    next();
                    yield new Node.Block(t.line(), parseStatements(Set.of("endgeneration"), true));
                }
                case "break", "continue" -> {
                    if (loops == 0) throw error("'" + t.text() + "' outside of a loop");
                    next();
                    yield t.text().equals("break") ? new Node.Break(t.line()) : new Node.Continue(t.line());
                }
                case "extends", "include", "import", "from", "block" ->
                        throw error("'" + t.text() + "' is not supported: a chat template is a single self-contained template");
                default -> throw error("Encountered unknown tag '" + t.text() + "'");
            };
        } finally {
            leave();
        }
    }

    private Node parseFor() {
        int line = next().line();
        Target target = parseAssignTarget(true, false, Set.of("in"));
        expectName("in");
        Expr iter = parseTuple(false, false, Set.of("recursive"), false);
        Expr filter = null;
        if (skipName("if")) filter = parseExpression(true);
        boolean recursive = skipName("recursive");
        loops++;
        List<Node> body;
        try {
            body = parseStatements(Set.of("endfor", "else"), false);
        } finally {
            loops--;
        }
        List<Node> orElse = List.of();
        if (next().text().equals("else")) orElse = parseStatements(Set.of("endfor"), true);
        return new Node.For(line, target, iter, filter, body, orElse, recursive);
    }

    private Node parseIf() {
        int line = next().line();
        List<Expr> tests = new ArrayList<>();
        List<List<Node>> bodies = new ArrayList<>();
        List<Node> orElse = List.of();
        while (true) {
            tests.add(parseTuple(false, false, null, false));
            bodies.add(parseStatements(Set.of("elif", "else", "endif"), false));
            Tok t = next();
            if (t.text().equals("elif")) continue;
            if (t.text().equals("else")) orElse = parseStatements(Set.of("endif"), true);
            break;
        }
        return new Node.If(line, tests, bodies, orElse);
    }

    private Node parseSet() {
        int line = next().line();
        Target target = parseAssignTarget(true, true, null);
        if (skipOp("=")) return new Node.Set(line, target, parseTuple(false, true, null, false));
        List<Expr.Filter> filters = parseFilterChain(false);
        return new Node.SetBlock(line, target, filters, parseStatements(Set.of("endset"), true));
    }

    private List<Node.Param> parseSignature() {
        List<Node.Param> params = new ArrayList<>();
        expectOp("(");
        boolean defaults = false;
        while (!cur().isOp(")")) {
            if (!params.isEmpty()) expectOp(",");
            String name = expect(Kind.NAME).text();
            Expr dflt = null;
            if (skipOp("=")) {
                dflt = parseExpression(true);
                defaults = true;
            } else if (defaults) {
                throw error("non-default argument follows default argument");
            }
            params.add(new Node.Param(name, dflt));
        }
        expectOp(")");
        return params;
    }

    private Node.Macro macroBody(int line, String name, List<Node.Param> params, String endTag) {
        macroNames.push(new HashSet<>());
        int savedLoops = loops;
        loops = 0; // break/continue do not cross a macro boundary
        List<Node> body;
        Set<String> used;
        try {
            body = parseStatements(Set.of(endTag), true);
        } finally {
            loops = savedLoops;
            used = macroNames.pop();
        }
        return new Node.Macro(line, name, params, body, used.contains("varargs"), used.contains("kwargs"), used.contains("caller"));
    }

    private Node parseMacro() {
        int line = next().line();
        String name = expect(Kind.NAME).text();
        return macroBody(line, name, parseSignature(), "endmacro");
    }

    private Node parseCallBlock() {
        int line = next().line();
        List<Node.Param> params = cur().isOp("(") ? parseSignature() : List.of();
        Expr call = parseExpression(true);
        if (!(call instanceof Expr.Call c)) throw new TemplateSyntaxException("expected call", line);
        return new Node.CallBlock(line, macroBody(line, "caller", params, "endcall"), c);
    }

    private Node parseFilterBlock() {
        int line = next().line();
        List<Expr.Filter> filters = parseFilterChain(true);
        return new Node.FilterBlock(line, filters, parseStatements(Set.of("endfilter"), true));
    }

    private Node parseWith() {
        int line = next().line();
        List<Target> targets = new ArrayList<>();
        List<Expr> values = new ArrayList<>();
        while (cur().kind() != Kind.BLOCK_END) {
            if (!targets.isEmpty()) expectOp(",");
            targets.add(parseAssignTarget(true, false, null));
            expectOp("=");
            values.add(parseExpression(true));
        }
        return new Node.With(line, targets, values, parseStatements(Set.of("endwith"), true));
    }

    private Node parsePrint() {
        int line = next().line();
        List<Expr> items = new ArrayList<>();
        while (cur().kind() != Kind.BLOCK_END) {
            if (!items.isEmpty()) expectOp(",");
            items.add(parseExpression(true));
        }
        return new Node.Print(line, items.size() == 1 ? items.getFirst() : new Expr.Concat(line, items));
    }

    private Target parseAssignTarget(boolean withTuple, boolean withNamespace, Set<String> extraEnd) {
        List<Target> items = new ArrayList<>();
        boolean tuple = false;
        while (true) {
            if (!items.isEmpty()) expectOp(",");
            if (isTupleEnd(extraEnd)) break;
            Tok t = expect(Kind.NAME);
            if (withNamespace && cur().isOp(".")) {
                next();
                items.add(new Target.NsAttr(t.text(), expect(Kind.NAME).text()));
            } else {
                if (Set.of("true", "false", "True", "False", "none", "None").contains(t.text())) {
                    throw new TemplateSyntaxException("can't assign to const", t.line());
                }
                items.add(new Target.Name(t.text()));
            }
            if (withTuple && cur().isOp(",")) tuple = true;
            else break;
        }
        if (items.isEmpty()) throw error("expected an assignment target");
        if (!tuple) return items.getFirst();
        for (Target x : items) if (x instanceof Target.NsAttr) throw error("can't assign to a namespace attribute inside a tuple");
        return new Target.Tuple(items);
    }

    // ---- expressions ----

    private boolean isTupleEnd(Set<String> extraEnd) {
        Tok t = cur();
        if (t.kind() == Kind.VAR_END || t.kind() == Kind.BLOCK_END || t.isOp(")")) return true;
        return extraEnd != null && t.kind() == Kind.NAME && extraEnd.contains(t.text());
    }

    /** Comma-separated expressions; a tuple when there is a comma (Jinja's parse_tuple). */
    private Expr parseTuple(boolean simplified, boolean withCondexpr, Set<String> extraEnd, boolean explicitParens) {
        int line = cur().line();
        List<Expr> args = new ArrayList<>();
        boolean tuple = false;
        while (true) {
            if (!args.isEmpty()) expectOp(",");
            if (isTupleEnd(extraEnd)) break;
            args.add(simplified ? parsePrimary() : parseExpression(withCondexpr));
            if (cur().isOp(",")) tuple = true;
            else break;
        }
        if (!tuple) {
            if (!args.isEmpty()) return args.getFirst();
            if (!explicitParens) throw error("Expected an expression, got '" + describe(cur()) + "'");
        }
        return new Expr.TupleLit(line, args);
    }

    private Expr parseExpression(boolean withCondexpr) {
        return withCondexpr ? parseCondexpr() : parseOr();
    }

    private Expr parseCondexpr() {
        int line = cur().line();
        Expr e = parseOr();
        while (skipName("if")) {
            Expr test = parseOr();
            Expr orElse = skipName("else") ? parseCondexpr() : null;
            e = new Expr.Cond(line, test, e, orElse);
            line = cur().line();
        }
        return e;
    }

    private Expr parseOr() {
        int line = cur().line();
        Expr left = parseAnd();
        while (skipName("or")) left = new Expr.Or(line, left, parseAnd());
        return left;
    }

    private Expr parseAnd() {
        int line = cur().line();
        Expr left = parseNot();
        while (skipName("and")) left = new Expr.And(line, left, parseNot());
        return left;
    }

    private Expr parseNot() {
        if (cur().isName("not")) {
            int line = next().line();
            enter();
            try {
                return new Expr.Not(line, parseNot());
            } finally {
                leave();
            }
        }
        return parseCompare();
    }

    private Expr parseCompare() {
        int line = cur().line();
        Expr first = parseMath1();
        List<String> ops = new ArrayList<>();
        List<Expr> operands = new ArrayList<>();
        while (true) {
            Tok t = cur();
            if (t.kind() == Kind.OP && COMPARE.contains(t.text())) {
                next();
                ops.add(t.text());
            } else if (t.isName("in")) {
                next();
                ops.add("in");
            } else if (t.isName("not") && look().isName("in")) {
                next();
                next();
                ops.add("not in");
            } else {
                break;
            }
            operands.add(parseMath1());
        }
        return ops.isEmpty() ? first : new Expr.Compare(line, first, ops, operands);
    }

    private Expr parseMath1() {
        int line = cur().line();
        Expr left = parseConcat();
        while (cur().isOp("+") || cur().isOp("-")) {
            String op = next().text();
            left = new Expr.Binary(line, op, left, parseConcat());
        }
        return left;
    }

    private Expr parseConcat() {
        int line = cur().line();
        List<Expr> parts = new ArrayList<>();
        parts.add(parseMath2());
        while (skipOp("~")) parts.add(parseMath2());
        return parts.size() == 1 ? parts.getFirst() : new Expr.Concat(line, parts);
    }

    private Expr parseMath2() {
        int line = cur().line();
        Expr left = parsePow();
        while (cur().isOp("*") || cur().isOp("/") || cur().isOp("//") || cur().isOp("%")) {
            String op = next().text();
            left = new Expr.Binary(line, op, left, parsePow());
        }
        return left;
    }

    private Expr parsePow() {
        int line = cur().line();
        Expr left = parseUnary(true);
        while (skipOp("**")) left = new Expr.Binary(line, "**", left, parseUnary(true));
        return left;
    }

    private Expr parseUnary(boolean withFilter) {
        enter();
        try {
            Tok t = cur();
            Expr node;
            if (t.isOp("-") || t.isOp("+")) {
                next();
                node = new Expr.Unary(t.line(), t.text(), parseUnary(false));
            } else {
                node = parsePrimary();
            }
            node = parsePostfix(node);
            if (withFilter) node = parseFilterExpr(node);
            return node;
        } finally {
            leave();
        }
    }

    private Expr parsePrimary() {
        Tok t = cur();
        switch (t.kind()) {
            case NAME -> {
                next();
                return switch (t.text()) {
                    case "true", "True" -> new Expr.Const(t.line(), Value.Bool.TRUE);
                    case "false", "False" -> new Expr.Const(t.line(), Value.Bool.FALSE);
                    case "none", "None" -> new Expr.Const(t.line(), Value.None.NONE);
                    default -> {
                        if (!macroNames.isEmpty()) macroNames.peek().add(t.text());
                        yield new Expr.Name(t.line(), t.text());
                    }
                };
            }
            case STRING -> {
                next();
                StringBuilder sb = new StringBuilder((String) t.value());
                while (cur().kind() == Kind.STRING) sb.append((String) next().value());
                return new Expr.Const(t.line(), new Value.Str(sb.toString()));
            }
            case INT -> {
                next();
                return new Expr.Const(t.line(), new Value.Int((Long) t.value()));
            }
            case FLOAT -> {
                next();
                return new Expr.Const(t.line(), new Value.Real((Double) t.value()));
            }
            case OP -> {
                switch (t.text()) {
                    case "(" -> {
                        next();
                        Expr e = parseTuple(false, true, null, true);
                        expectOp(")");
                        return e;
                    }
                    case "[" -> {
                        return parseList();
                    }
                    case "{" -> {
                        return parseDict();
                    }
                    default -> {
                    }
                }
            }
            default -> {
            }
        }
        throw error("unexpected '" + describe(t) + "'");
    }

    private Expr parseList() {
        int line = expectOp("[").line();
        List<Expr> items = new ArrayList<>();
        while (!cur().isOp("]")) {
            if (!items.isEmpty()) expectOp(",");
            if (cur().isOp("]")) break;
            items.add(parseExpression(true));
        }
        expectOp("]");
        return new Expr.ListLit(line, items);
    }

    private Expr parseDict() {
        int line = expectOp("{").line();
        List<Expr> keys = new ArrayList<>();
        List<Expr> values = new ArrayList<>();
        while (!cur().isOp("}")) {
            if (!keys.isEmpty()) expectOp(",");
            if (cur().isOp("}")) break;
            keys.add(parseExpression(true));
            expectOp(":");
            values.add(parseExpression(true));
        }
        expectOp("}");
        return new Expr.DictLit(line, keys, values);
    }

    private Expr parsePostfix(Expr node) {
        while (true) {
            Tok t = cur();
            if (t.isOp(".") || t.isOp("[")) node = parseSubscript(node);
            else if (t.isOp("(")) node = new Expr.Call(t.line(), node, parseCallArgs());
            else return node;
        }
    }

    private Expr parseFilterExpr(Expr node) {
        while (true) {
            Tok t = cur();
            if (t.isOp("|")) {
                next();
                node = parseFilter(node);
            } else if (t.isName("is")) {
                node = parseTest(node);
            } else if (t.isOp("(")) {
                node = new Expr.Call(t.line(), node, parseCallArgs());
            } else {
                return node;
            }
        }
    }

    private Expr parseSubscript(Expr node) {
        Tok t = next();
        if (t.isOp(".")) {
            Tok a = next();
            if (a.kind() == Kind.NAME) return new Expr.GetAttr(t.line(), node, a.text());
            if (a.kind() != Kind.INT) throw new TemplateSyntaxException("expected name or number", a.line());
            return new Expr.GetItem(t.line(), node, new Expr.Const(a.line(), new Value.Int((Long) a.value())));
        }
        List<Expr> args = new ArrayList<>();
        while (!cur().isOp("]")) {
            if (!args.isEmpty()) expectOp(",");
            args.add(parseSubscribed());
        }
        expectOp("]");
        return new Expr.GetItem(t.line(), node, args.size() == 1 ? args.getFirst() : new Expr.TupleLit(t.line(), args));
    }

    private Expr parseSubscribed() {
        int line = cur().line();
        Expr start = null;
        if (cur().isOp(":")) {
            next();
        } else {
            Expr e = parseExpression(true);
            if (!cur().isOp(":")) return e;
            next();
            start = e;
        }
        Expr stop = null, step = null;
        if (!cur().isOp(":") && !cur().isOp("]") && !cur().isOp(",")) stop = parseExpression(true);
        if (skipOp(":")) {
            if (!cur().isOp("]") && !cur().isOp(",")) step = parseExpression(true);
        }
        return new Expr.Slice(line, start, stop, step);
    }

    private Expr.CallArgs parseCallArgs() {
        int line = expectOp("(").line();
        List<Expr> args = new ArrayList<>();
        List<String> names = new ArrayList<>();
        List<Expr> kwargs = new ArrayList<>();
        Expr dynArgs = null, dynKwargs = null;
        boolean needComma = false;
        while (!cur().isOp(")")) {
            if (needComma) {
                expectOp(",");
                if (cur().isOp(")")) break;
            }
            if (cur().isOp("*")) {
                if (dynArgs != null || dynKwargs != null) throw new TemplateSyntaxException("invalid syntax for function call expression", line);
                next();
                dynArgs = parseExpression(true);
            } else if (cur().isOp("**")) {
                if (dynKwargs != null) throw new TemplateSyntaxException("invalid syntax for function call expression", line);
                next();
                dynKwargs = parseExpression(true);
            } else if (cur().kind() == Kind.NAME && look().isOp("=")) {
                if (dynKwargs != null) throw new TemplateSyntaxException("invalid syntax for function call expression", line);
                String key = next().text();
                next();
                if (names.contains(key)) throw new TemplateSyntaxException("keyword argument repeated: " + key, line);
                names.add(key);
                kwargs.add(parseExpression(true));
            } else {
                if (dynArgs != null || dynKwargs != null || !kwargs.isEmpty()) throw new TemplateSyntaxException("invalid syntax for function call expression", line);
                args.add(parseExpression(true));
            }
            needComma = true;
        }
        expectOp(")");
        return new Expr.CallArgs(args, names, kwargs, dynArgs, dynKwargs);
    }

    private String dottedName() {
        StringBuilder name = new StringBuilder(expect(Kind.NAME).text());
        while (cur().isOp(".")) {
            next();
            name.append('.').append(expect(Kind.NAME).text());
        }
        return name.toString();
    }

    private Expr.Filter parseFilter(Expr value) {
        int line = cur().line();
        String name = dottedName();
        Expr.CallArgs args = cur().isOp("(") ? parseCallArgs() : Expr.CallArgs.NONE;
        return new Expr.Filter(line, value, name, args);
    }

    /** {@code | a | b(x)} after set/filter tags: filters whose input is the block's body. */
    private List<Expr.Filter> parseFilterChain(boolean startInline) {
        List<Expr.Filter> out = new ArrayList<>();
        while (startInline || cur().isOp("|")) {
            if (!startInline) next();
            startInline = false;
            out.add(parseFilter(null));
        }
        return out;
    }

    private Expr parseTest(Expr value) {
        int line = next().line();
        boolean negated = skipName("not");
        String name = dottedName();
        Expr.CallArgs args = Expr.CallArgs.NONE;
        Tok t = cur();
        if (t.isOp("(")) {
            args = parseCallArgs();
        } else if ((t.kind() == Kind.NAME || t.kind() == Kind.STRING || t.kind() == Kind.INT || t.kind() == Kind.FLOAT
                || t.isOp("(") || t.isOp("[") || t.isOp("{"))
                && !(t.isName("else") || t.isName("or") || t.isName("and"))) {
            if (t.isName("is")) throw error("You cannot chain multiple tests with is");
            Expr arg = parsePostfix(parsePrimary());
            args = new Expr.CallArgs(List.of(arg), List.of(), List.of(), null, null);
        }
        return new Expr.Test(line, value, name, args, negated);
    }
}
