package io.sluice.grammar;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * JSON Schema (the draft 2020-12 subset that OpenAI's strict mode and llama.cpp's
 * json-schema-to-grammar cover) to a grammar whose sentences are JSON documents valid against the
 * schema: {@code type} (also lists), {@code properties/required/additionalProperties},
 * {@code items/prefixItems/minItems/maxItems}, {@code enum/const}, strings with
 * {@code pattern/format/minLength/maxLength}, integers and numbers with
 * {@code minimum/maximum/exclusiveMinimum/exclusiveMaximum}, {@code anyOf/oneOf/allOf}, local
 * {@code $ref} into {@code $defs}/{@code definitions} (recursion included) and OpenAPI's
 * {@code nullable}. Annotations (title, description, default, examples...) are ignored.
 *
 * <p>Anything else that constrains values ({@code not}, {@code if}, {@code uniqueItems},
 * {@code patternProperties}, {@code multipleOf}, a remote {@code $ref}...) is a
 * {@link GrammarException} naming the keyword and where it is, never silently dropped. As in
 * llama.cpp, an object with {@code properties} takes no other keys unless
 * {@code additionalProperties} allows them, optional properties come in the declared order, and
 * {@code oneOf} is generated like {@code anyOf} (so its alternatives should not overlap).
 * Whitespace between tokens is limited to what llama.cpp allows, so generation cannot run away in
 * blanks.
 */
public final class JsonSchemaGrammar {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static final Set<String> ANNOTATIONS = Set.of("title", "description", "$schema", "$id", "$comment", "default",
            "examples", "deprecated", "readOnly", "writeOnly", "$anchor", "contentEncoding", "contentMediaType",
            "contentSchema", "discriminator", "xml", "externalDocs", "example", "strict", "name");
    private static final Set<String> UNSUPPORTED = Set.of("not", "if", "then", "else", "dependentSchemas", "dependentRequired",
            "dependencies", "patternProperties", "propertyNames", "unevaluatedProperties", "unevaluatedItems", "contains",
            "minContains", "maxContains", "minProperties", "maxProperties", "multipleOf", "$dynamicRef", "$dynamicAnchor",
            "$recursiveRef", "$recursiveAnchor", "additionalItems");
    private static final Set<String> FORMATS = Set.of("date", "time", "date-time", "uuid", "email", "ipv4");

    static final String SPACE = "| \" \" | \"\\n\"{1,2} [ \\t]{0,20}";
    private static final Map<String, String> PRIMITIVES = new LinkedHashMap<>();

    static {
        PRIMITIVES.put("space", SPACE);
        PRIMITIVES.put("char", "[^\"\\\\\\x7F\\x00-\\x1F] | [\\\\] ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4})");
        PRIMITIVES.put("string", "\"\\\"\" char* \"\\\"\" space");
        PRIMITIVES.put("integral-part", "[0] | [1-9] [0-9]{0,15}");
        PRIMITIVES.put("decimal-part", "[0-9]{1,16}");
        PRIMITIVES.put("number", "(\"-\"? integral-part) (\".\" decimal-part)? ([eE] [-+]? integral-part)? space");
        PRIMITIVES.put("integer", "(\"-\"? integral-part) space");
        PRIMITIVES.put("boolean", "(\"true\" | \"false\") space");
        PRIMITIVES.put("null", "\"null\" space");
        PRIMITIVES.put("value", "object | array | string | number | boolean | null");
        PRIMITIVES.put("object", "\"{\" space ( string \":\" space value (\",\" space string \":\" space value)* )? \"}\" space");
        PRIMITIVES.put("array", "\"[\" space ( value (\",\" space value)* )? \"]\" space");
        // Days only up to 28, no leap seconds, offsets within java.time's +-18:00: every date and time the grammar makes is a real one.
        PRIMITIVES.put("date", "[0-9]{4} \"-\" ( \"0\" [1-9] | \"1\" [0-2] ) \"-\" ( \"0\" [1-9] | \"1\" [0-9] | \"2\" [0-8] )");
        PRIMITIVES.put("time", "([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9] \":\" [0-5] [0-9] ( \".\" [0-9]{3} )? ( \"Z\" | ( \"+\" | \"-\" ) ( \"0\" [0-9] | \"1\" [0-7] ) \":\" [0-5] [0-9] )");
        PRIMITIVES.put("date-time", "date \"T\" time");
        PRIMITIVES.put("uuid", "[0-9a-fA-F]{8} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{12}");
        PRIMITIVES.put("email", "[a-z0-9]{1,16} (\".\" [a-z0-9]{1,15}){0,2} \"@\" [a-z0-9]{1,20} (\".\" [a-z0-9]{1,20}){0,2} \".\" (\"com\" | \"org\" | \"net\" | \"io\")");
        PRIMITIVES.put("ipv4", "octet \".\" octet \".\" octet \".\" octet");
        PRIMITIVES.put("octet", "[0-9] | [1-9] [0-9] | \"1\" [0-9] [0-9] | \"2\" [0-4] [0-9] | \"25\" [0-5]");
    }

    private static final Map<String, List<String>> DEPS = Map.ofEntries(
            Map.entry("string", List.of("char", "space")),
            Map.entry("number", List.of("integral-part", "decimal-part", "space")),
            Map.entry("integer", List.of("integral-part", "space")),
            Map.entry("boolean", List.of("space")),
            Map.entry("null", List.of("space")),
            Map.entry("value", List.of("object", "array", "string", "number", "boolean", "null")),
            Map.entry("object", List.of("string", "value", "space")),
            Map.entry("array", List.of("value", "space")),
            Map.entry("date-time", List.of("date", "time")),
            Map.entry("ipv4", List.of("octet")));

    private final JsonNode root;
    /** Put before every rule name the schema adds (not the shared primitives), so several schemas fit in one grammar. */
    private final String prefix;
    private final Map<String, String> rules = new LinkedHashMap<>();
    private final Map<String, String> refRules = new HashMap<>();

    private JsonSchemaGrammar(JsonNode root, String prefix) {
        this.root = root;
        this.prefix = prefix;
    }

    /** The grammar of JSON documents valid against the schema (given as JSON text). */
    public static Grammar fromSchema(String schemaJson) {
        return Grammar.parseGbnf(toGbnf(parse(schemaJson)));
    }

    public static Grammar fromSchema(JsonNode schema) {
        return Grammar.parseGbnf(toGbnf(schema));
    }

    /** The GBNF source, for inspection (as llama.cpp's json_schema_to_grammar.py prints it). */
    public static String toGbnf(JsonNode schema) {
        JsonSchemaGrammar c = new JsonSchemaGrammar(schema, "");
        String body = c.visit(schema, "", "#");
        StringBuilder out = new StringBuilder();
        out.append("root ::= ").append(body).append('\n');
        for (Map.Entry<String, String> r : c.rules.entrySet()) {
            if (!r.getKey().equals("root")) out.append(r.getKey()).append(" ::= ").append(r.getValue()).append('\n');
        }
        return out.toString();
    }

    /**
     * The schema's rules for a larger grammar: its values are rule {@code name}, every other rule it adds
     * is named {@code name-...}, and the shared primitives (string, number, space...) keep their names, so
     * the rules of several schemas can be joined (identical primitive lines once) under a root of one's own.
     */
    public static List<String> toGbnfRules(JsonNode schema, String name) {
        JsonSchemaGrammar c = new JsonSchemaGrammar(schema, name + "-");
        String body = c.visit(schema, "", "#");
        List<String> out = new ArrayList<>();
        out.add(name + " ::= " + body);
        for (Map.Entry<String, String> r : c.rules.entrySet()) out.add(r.getKey() + " ::= " + r.getValue());
        return out;
    }

    /** Any JSON object (response_format json_object). */
    public static Grammar anyObject() {
        return fromSchema("{\"type\": \"object\"}");
    }

    static JsonNode parse(String schemaJson) {
        if (schemaJson == null) throw new GrammarException("the JSON schema is null");
        try {
            return JSON.readTree(schemaJson);
        } catch (JsonProcessingException e) {
            throw new GrammarException("the JSON schema is not valid JSON: " + e.getOriginalMessage());
        }
    }

    // ---- rules ----

    private String primitive(String name) {
        if (!rules.containsKey(name)) {
            rules.put(name, PRIMITIVES.get(name));
            for (String dep : DEPS.getOrDefault(name, List.of())) primitive(dep);
        }
        return name;
    }

    /** Adds a rule with this body under a name derived from hint (or finds an identical one); returns its name. */
    private String rule(String hint, String body) {
        for (Map.Entry<String, String> e : rules.entrySet()) {
            if (e.getValue().equals(body) && !PRIMITIVES.containsKey(e.getKey())) return e.getKey();
        }
        String name = freeName(hint);
        rules.put(name, body);
        return name;
    }

    /** A rule name from a hint (a JSON path-like name), not yet used and not reserved. */
    private String freeName(String hint) {
        String base = hint.replaceAll("[^a-zA-Z0-9-]+", "-").replaceAll("^-+|-+$", "");
        if (base.isEmpty()) base = "top";
        base = prefix + base;
        String name = base;
        for (int i = 1; rules.containsKey(name) || PRIMITIVES.containsKey(name) || name.equals("root"); i++) name = base + "-" + i;
        return name;
    }

    private static String join(String name, String part) {
        return name.isEmpty() ? part : name + "-" + part;
    }

    // ---- schemas ----

    /** A GBNF expression for values valid against schema (reached at path), followed by space. */
    private String visit(JsonNode schema, String name, String path) {
        if (schema.isBoolean()) {
            if (schema.asBoolean()) return primitive("value");
            throw new GrammarException("schema at " + path + " is false: no value is valid");
        }
        if (!schema.isObject()) throw new GrammarException("schema at " + path + " must be an object or a boolean, not " + schema.getNodeType());
        checkKeywords(schema, path);
        if (schema.has("$ref")) {
            Set<String> others = assertionKeys(schema);
            others.remove("$ref");
            others.remove("$defs");
            others.remove("definitions");
            if (!others.isEmpty()) throw new GrammarException("at " + path + ": $ref together with " + others + " is not supported");
            return ref(schema.get("$ref"), path);
        }
        if (schema.path("nullable").asBoolean(false)) {
            JsonNode copy = schema.deepCopy();
            ((com.fasterxml.jackson.databind.node.ObjectNode) copy).remove("nullable");
            return "(" + visit(copy, name, path) + " | " + primitive("null") + ")";
        }
        JsonNode type = schema.get("type");
        if (type != null && type.isArray()) {
            List<String> alts = new ArrayList<>();
            int i = 0;
            for (JsonNode t : type) {
                com.fasterxml.jackson.databind.node.ObjectNode one = schema.deepCopy();
                one.set("type", t);
                alts.add(visit(one, join(name, t.isTextual() ? t.asText() : String.valueOf(i)), path + "/type/" + i++));
            }
            if (alts.isEmpty()) throw new GrammarException("at " + path + ": 'type' is an empty list");
            return alts.size() == 1 ? alts.getFirst() : "(" + String.join(" | ", alts) + ")";
        }
        if (type != null && !type.isTextual()) throw new GrammarException("at " + path + ": 'type' must be a string or a list of strings");
        String t = type == null ? null : type.asText();
        if (t != null && !Set.of("string", "number", "integer", "boolean", "null", "object", "array").contains(t)) {
            throw new GrammarException("at " + path + "/type: unknown type '" + t + "'");
        }

        for (String combinator : new String[]{"anyOf", "oneOf"}) {
            if (schema.has(combinator)) {
                Set<String> others = assertionKeys(schema);
                others.remove(combinator);
                if (!others.isEmpty()) throw new GrammarException("at " + path + ": " + combinator + " together with " + others + " is not supported (put them inside each alternative)");
                JsonNode alts = schema.get(combinator);
                if (!alts.isArray() || alts.isEmpty()) throw new GrammarException("at " + path + "/" + combinator + ": must be a non-empty array");
                List<String> out = new ArrayList<>();
                for (int i = 0; i < alts.size(); i++) out.add(visit(alts.get(i), join(name, String.valueOf(i)), path + "/" + combinator + "/" + i));
                return rule(name, String.join(" | ", out));
            }
        }
        if (schema.has("allOf")) return visit(mergeAllOf(schema, path), name, path);
        if (schema.has("const")) return rule(name, constant(schema.get("const")) + " space");
        if (schema.has("enum")) {
            JsonNode values = schema.get("enum");
            if (!values.isArray() || values.isEmpty()) throw new GrammarException("at " + path + "/enum: must be a non-empty array");
            LinkedHashSet<String> alts = new LinkedHashSet<>();
            for (JsonNode v : values) if (t == null || hasType(v, t)) alts.add(constant(v));
            if (alts.isEmpty()) throw new GrammarException("at " + path + ": no enum value has type '" + t + "'");
            primitive("space");
            return rule(name, "(" + String.join(" | ", alts) + ") space");
        }
        if (t == null) t = impliedType(schema, path);
        if (t == null) return primitive("value");
        return switch (t) {
            case "object" -> object(schema, name, path);
            case "array" -> array(schema, name, path);
            case "string" -> string(schema, name, path);
            case "integer", "number" -> number(schema, name, path, t.equals("integer"));
            case "boolean" -> primitive("boolean");
            case "null" -> primitive("null");
            default -> throw new AssertionError(t);
        };
    }

    private void checkKeywords(JsonNode schema, String path) {
        for (Iterator<String> it = schema.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (UNSUPPORTED.contains(k)) throw new GrammarException("unsupported JSON Schema keyword '" + k + "' at " + path);
            if (k.equals("uniqueItems") && schema.get(k).asBoolean(false)) {
                throw new GrammarException("unsupported JSON Schema keyword 'uniqueItems' at " + path + " (a grammar cannot keep items distinct)");
            }
        }
    }

    /** The keywords of schema that constrain values (everything but annotations). */
    private static Set<String> assertionKeys(JsonNode schema) {
        Set<String> out = new LinkedHashSet<>();
        for (Iterator<String> it = schema.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!ANNOTATIONS.contains(k) && !k.startsWith("x-") && !k.equals("$defs") && !k.equals("definitions") && !k.equals("uniqueItems")) out.add(k);
        }
        return out;
    }

    /** The type a schema without 'type' clearly means from its keywords, or null for "any value". */
    private static String impliedType(JsonNode s, String path) {
        boolean obj = s.has("properties") || s.has("additionalProperties") || s.has("required");
        boolean arr = s.has("items") || s.has("prefixItems") || s.has("minItems") || s.has("maxItems");
        boolean str = s.has("pattern") || s.has("format") || s.has("minLength") || s.has("maxLength");
        boolean num = s.has("minimum") || s.has("maximum") || s.has("exclusiveMinimum") || s.has("exclusiveMaximum");
        int kinds = (obj ? 1 : 0) + (arr ? 1 : 0) + (str ? 1 : 0) + (num ? 1 : 0);
        if (kinds > 1) throw new GrammarException("at " + path + ": keywords of several types without a 'type' are not supported; add 'type'");
        return obj ? "object" : arr ? "array" : str ? "string" : num ? "number" : null;
    }

    private static boolean hasType(JsonNode v, String t) {
        return switch (t) {
            case "string" -> v.isTextual();
            case "integer" -> v.isIntegralNumber() || (v.isNumber() && v.decimalValue().stripTrailingZeros().scale() <= 0);
            case "number" -> v.isNumber();
            case "boolean" -> v.isBoolean();
            case "null" -> v.isNull();
            case "object" -> v.isObject();
            case "array" -> v.isArray();
            default -> false;
        };
    }

    /** A JSON value written out exactly (compact, as Jackson serialises it), as a GBNF literal. */
    private String constant(JsonNode v) {
        try {
            return GbnfText.literal(JSON.writeValueAsString(v));
        } catch (JsonProcessingException e) {
            throw new GrammarException("cannot write constant " + v);
        }
    }

    private String ref(JsonNode refNode, String path) {
        if (!refNode.isTextual()) throw new GrammarException("at " + path + "/$ref: must be a string");
        String ref = refNode.asText();
        String existing = refRules.get(ref);
        if (existing != null) return existing;
        if (!ref.startsWith("#")) throw new GrammarException("at " + path + ": only local $ref ('#/...') is supported, not '" + ref + "'");
        JsonNode target = root;
        String pointer = ref.substring(1);
        if (!pointer.isEmpty()) {
            if (!pointer.startsWith("/")) throw new GrammarException("at " + path + ": $ref '" + ref + "' is not a JSON pointer (anchors are not supported)");
            target = root.at(pointer);
            if (target.isMissingNode()) throw new GrammarException("at " + path + ": $ref '" + ref + "' points to nothing");
        }
        String name = freeName(pointer.isEmpty() ? "root-ref" : "ref" + pointer.replace('/', '-'));
        refRules.put(ref, name);
        rules.put(name, "");
        String body = visit(target, name, ref);
        rules.put(name, body);
        return name;
    }

    /** allOf of object schemas (or refs to them) merged into one object; anything else is refused. */
    private JsonNode mergeAllOf(JsonNode schema, String path) {
        JsonNode parts = schema.get("allOf");
        if (!parts.isArray() || parts.isEmpty()) throw new GrammarException("at " + path + "/allOf: must be a non-empty array");
        com.fasterxml.jackson.databind.node.ObjectNode merged = schema.deepCopy();
        merged.remove("allOf");
        if (parts.size() == 1 && assertionKeys(merged).isEmpty()) return parts.get(0);
        com.fasterxml.jackson.databind.node.ObjectNode props = JSON.createObjectNode();
        LinkedHashSet<String> required = new LinkedHashSet<>();
        List<JsonNode> all = new ArrayList<>();
        all.add(merged);
        for (int i = 0; i < parts.size(); i++) {
            JsonNode p = parts.get(i);
            Set<String> seen = new java.util.HashSet<>();
            while (p.has("$ref")) {
                String ref = p.get("$ref").asText();
                if (!ref.startsWith("#/") || !seen.add(ref)) throw new GrammarException("at " + path + "/allOf/" + i + ": unsupported $ref '" + ref + "'");
                p = root.at(ref.substring(1));
                if (p.isMissingNode()) throw new GrammarException("at " + path + "/allOf/" + i + ": $ref '" + ref + "' points to nothing");
            }
            all.add(p);
        }
        for (int i = 0; i < all.size(); i++) {
            JsonNode p = all.get(i);
            for (String k : assertionKeys(p)) {
                if (!Set.of("type", "properties", "required", "additionalProperties").contains(k)) {
                    throw new GrammarException("at " + path + "/allOf: only object schemas (type, properties, required, additionalProperties) can be combined, found '" + k + "'");
                }
            }
            if (p.has("type") && !p.get("type").asText().equals("object")) throw new GrammarException("at " + path + "/allOf: only object schemas can be combined");
            if (p.has("additionalProperties") && !p.get("additionalProperties").isBoolean()) {
                throw new GrammarException("at " + path + "/allOf: additionalProperties schemas cannot be combined");
            }
            p.path("properties").fields().forEachRemaining(e -> props.set(e.getKey(), e.getValue()));
            p.path("required").forEach(r -> required.add(r.asText()));
        }
        com.fasterxml.jackson.databind.node.ObjectNode out = JSON.createObjectNode();
        out.put("type", "object");
        out.set("properties", props);
        var req = out.putArray("required");
        required.forEach(req::add);
        return out;
    }

    private String object(JsonNode s, String name, String path) {
        JsonNode props = s.get("properties");
        JsonNode additional = s.get("additionalProperties");
        if (props != null && !props.isObject()) throw new GrammarException("at " + path + "/properties: must be an object");
        if (props == null && (additional == null || additional.isBoolean() && additional.asBoolean())) return primitive("object");
        Set<String> required = new LinkedHashSet<>();
        JsonNode req = s.get("required");
        if (req != null) {
            if (!req.isArray()) throw new GrammarException("at " + path + "/required: must be an array of names");
            for (JsonNode r : req) {
                if (!r.isTextual()) throw new GrammarException("at " + path + "/required: must be an array of names");
                required.add(r.asText());
            }
        }
        primitive("space");
        List<String> requiredKvs = new ArrayList<>(), optionalKvs = new ArrayList<>();
        List<String> names = new ArrayList<>();
        if (props != null) {
            for (Iterator<Map.Entry<String, JsonNode>> it = props.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String key = e.getKey();
                names.add(key);
                String value = visit(e.getValue(), join(name, key), path + "/properties/" + key);
                String kv = rule(join(name, key + "-kv"), constant(JSON.getNodeFactory().textNode(key)) + " space \":\" space " + value);
                (required.contains(key) ? requiredKvs : optionalKvs).add(kv);
            }
        }
        for (String r : required) {
            if (!names.contains(r)) throw new GrammarException("at " + path + "/required: '" + r + "' is required but not in properties");
        }
        String extra = null;
        if (additional != null && !(additional.isBoolean() && !additional.asBoolean())) {
            String value = additional.isBoolean() ? primitive("value") : visit(additional, join(name, "additional"), path + "/additionalProperties");
            String key = names.isEmpty() ? primitive("string") : rule(join(name, "additional-k"), notNames(names) + " space");
            extra = rule(join(name, "additional-kv"), key + " \":\" space " + value);
        }
        StringBuilder b = new StringBuilder("\"{\" space ");
        b.append(String.join(" \",\" space ", requiredKvs));
        List<String> opts = new ArrayList<>(optionalKvs);
        if (extra != null) opts.add(extra + " (\",\" space " + extra + ")*");
        if (!opts.isEmpty()) {
            if (!requiredKvs.isEmpty()) {
                // Each optional one may follow, in order.
                for (String o : opts) b.append(" (\",\" space ").append(o).append(")?");
            } else {
                // None required: the first present one has no comma before it.
                List<String> firsts = new ArrayList<>();
                for (int i = 0; i < opts.size(); i++) {
                    StringBuilder alt = new StringBuilder(opts.get(i));
                    for (int j = i + 1; j < opts.size(); j++) alt.append(" (\",\" space ").append(opts.get(j)).append(")?");
                    firsts.add(alt.toString());
                }
                b.append(" (").append(String.join(" | ", firsts)).append(")?");
            }
        }
        b.append(" \"}\" space");
        return rule(name, b.toString());
    }

    /**
     * A JSON string (quotes included) that is none of names: a trie of the names with, at every
     * node, "stop" unless a name ends there and "any other character then anything". Only
     * unescaped characters, so no escape can spell a declared name in disguise.
     */
    private String notNames(List<String> names) {
        return "\"\\\"\" " + notIn(names, 0) + " \"\\\"\"";
    }

    private String notIn(List<String> names, int depth) {
        Map<Integer, List<String>> byNext = new LinkedHashMap<>();
        boolean endsHere = false;
        for (String n : names) {
            int[] cps = n.codePoints().toArray();
            if (cps.length == depth) endsHere = true;
            else byNext.computeIfAbsent(cps[depth], k -> new ArrayList<>()).add(n);
        }
        List<String> alts = new ArrayList<>();
        if (!endsHere) alts.add("\"\"");
        // A character no name continues with here, then anything.
        List<Integer> pairs = new ArrayList<>(List.of((int) '"', (int) '"', (int) '\\', (int) '\\', 0, 0x1F, 0x7F, 0x7F));
        for (int c : byNext.keySet()) {
            pairs.add(c);
            pairs.add(c);
        }
        int[] other = Expr.CharClass.of(pairs.stream().mapToInt(Integer::intValue).toArray(), true).ranges();
        if (other.length > 0) alts.add(GbnfText.charClass(other) + " [^\"\\\\\\x7F\\x00-\\x1F]*");
        for (Map.Entry<Integer, List<String>> e : byNext.entrySet()) {
            int c = e.getKey();
            if (c < 0x20 || c == '"' || c == '\\' || c == 0x7F) continue; // such names cannot be written unescaped
            alts.add(GbnfText.literal(new String(Character.toChars(c))) + " " + notIn(e.getValue(), depth + 1));
        }
        return "(" + String.join(" | ", alts) + ")";
    }

    private String array(JsonNode s, String name, String path) {
        int min = nonNegative(s, "minItems", 0, path);
        int max = nonNegative(s, "maxItems", -1, path);
        if (max >= 0 && max < min) throw new GrammarException("at " + path + ": maxItems < minItems");
        JsonNode items = s.get("items");
        JsonNode prefix = s.get("prefixItems");
        if (items != null && items.isArray()) { // draft-07 tuples
            prefix = items;
            items = null;
        }
        primitive("space");
        List<String> parts = new ArrayList<>();
        if (prefix != null) {
            if (!prefix.isArray()) throw new GrammarException("at " + path + "/prefixItems: must be an array");
            for (int i = 0; i < prefix.size(); i++) parts.add(visit(prefix.get(i), join(name, "tuple-" + i), path + "/prefixItems/" + i));
            boolean more = items != null && !(items.isBoolean() && !items.asBoolean());
            if (more || min > parts.size() || (max >= 0 && max < parts.size())) {
                throw new GrammarException("at " + path + ": prefixItems with further items or item counts is not supported");
            }
            return rule(name, "\"[\" space " + String.join(" \",\" space ", parts) + " \"]\" space");
        }
        String item = items == null ? primitive("value") : visit(items, join(name, "item"), path + "/items");
        return rule(name, "\"[\" space " + repetition(item, min, max, "\",\" space") + " \"]\" space");
    }

    /** item{min,max} separated by sep (max -1: unbounded). */
    private static String repetition(String item, int min, int max, String sep) {
        if (max == 0) return "";
        String rest = sep + " " + item;
        String tail = max < 0 ? "(" + rest + ")*" : max == 1 ? "" : "(" + rest + "){" + Math.max(0, min - 1) + "," + (max - 1) + "}";
        if (min > 1 && max < 0) tail = "(" + rest + "){" + (min - 1) + ",}";
        String once = "(" + item + " " + tail + ")";
        return min == 0 ? once + "?" : once;
    }

    private String string(JsonNode s, String name, String path) {
        boolean lengths = s.has("minLength") || s.has("maxLength");
        if (s.has("pattern")) {
            if (lengths || s.has("format")) throw new GrammarException("at " + path + ": pattern together with minLength/maxLength/format is not supported");
            JsonNode p = s.get("pattern");
            if (!p.isTextual()) throw new GrammarException("at " + path + "/pattern: must be a string");
            primitive("space");
            return rule(name, "\"\\\"\" " + RegexGrammar.toGbnf(p.asText()) + " \"\\\"\" space");
        }
        if (s.has("format")) {
            String f = s.get("format").asText();
            if (lengths) throw new GrammarException("at " + path + ": format together with minLength/maxLength is not supported");
            if (!FORMATS.contains(f)) throw new GrammarException("unsupported string format '" + f + "' at " + path + "/format (supported: " + String.join(", ", FORMATS) + ")");
            primitive("space");
            return rule(name, "\"\\\"\" " + primitive(f) + " \"\\\"\" space");
        }
        if (!lengths) return primitive("string");
        int min = nonNegative(s, "minLength", 0, path);
        int max = nonNegative(s, "maxLength", -1, path);
        if (max >= 0 && max < min) throw new GrammarException("at " + path + ": maxLength < minLength");
        if (min > GbnfParser.MAX_REPETITION || max > GbnfParser.MAX_REPETITION) {
            throw new GrammarException("at " + path + ": string lengths beyond " + GbnfParser.MAX_REPETITION + " are not supported");
        }
        primitive("char");
        primitive("space");
        String rep = max < 0 ? "char{" + min + ",}" : "char{" + min + "," + max + "}";
        return rule(name, "\"\\\"\" " + rep + " \"\\\"\" space");
    }

    private static int nonNegative(JsonNode s, String key, int dflt, String path) {
        JsonNode v = s.get(key);
        if (v == null) return dflt;
        if (!v.canConvertToInt() || !v.isIntegralNumber() && v.asDouble() != Math.rint(v.asDouble()) || v.asInt() < 0) {
            throw new GrammarException("at " + path + "/" + key + ": must be a non-negative integer");
        }
        return v.asInt();
    }

    // ---- numbers ----

    private String number(JsonNode s, String name, String path, boolean integer) {
        BigDecimal lo = null, hi = null;
        boolean loEx = false, hiEx = false;
        for (String k : new String[]{"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"}) {
            JsonNode v = s.get(k);
            if (v == null) continue;
            if (v.isBoolean() && k.startsWith("exclusive")) { // draft-04 style flags
                if (v.asBoolean()) {
                    if (k.equals("exclusiveMinimum")) loEx = true;
                    else hiEx = true;
                }
                continue;
            }
            if (!v.isNumber()) throw new GrammarException("at " + path + "/" + k + ": must be a number");
            BigDecimal d = v.decimalValue();
            switch (k) {
                case "minimum" -> lo = lo == null || d.compareTo(lo) > 0 ? d : lo;
                case "maximum" -> hi = hi == null || d.compareTo(hi) < 0 ? d : hi;
                case "exclusiveMinimum" -> {
                    lo = d;
                    loEx = true;
                }
                default -> {
                    hi = d;
                    hiEx = true;
                }
            }
        }
        if (lo == null && hi == null) return primitive(integer ? "integer" : "number");
        // The integers in range (bounds rounded inward); 16 digits at most, like the plain rules.
        BigInteger min = lo == null ? null : ceilStrict(lo, loEx);
        BigInteger max = hi == null ? null : floorStrict(hi, hiEx);
        BigInteger limit = BigInteger.TEN.pow(16).subtract(BigInteger.ONE);
        if (min == null || min.compareTo(limit.negate()) < 0) min = limit.negate();
        if (max == null || max.compareTo(limit) > 0) max = limit;
        if (min.compareTo(max) > 0) {
            throw new GrammarException("at " + path + ": the range [" + lo + ", " + hi + "] holds no "
                    + (integer ? "integer" : "integer, and numbers are only generated from ranges that hold one"));
        }
        List<String> alts = new ArrayList<>();
        alts.add(intRange(min, max));
        if (!integer) {
            primitive("decimal-part");
            // m.f (0 < .f < 1) fits when [m, m+1] fits: integer part m in [min, max-1] for m >= 0,
            // and -m.f for -(m+1) >= min, that is m in [max(0, -max), -min-1].
            BigInteger nonNegLo = min.max(BigInteger.ZERO), nonNegHi = max.subtract(BigInteger.ONE);
            if (nonNegLo.compareTo(nonNegHi) <= 0) alts.add("(" + intRange(nonNegLo, nonNegHi) + ") \".\" decimal-part");
            BigInteger negLo = max.negate().max(BigInteger.ZERO), negHi = min.negate().subtract(BigInteger.ONE);
            if (negLo.compareTo(negHi) <= 0) alts.add("\"-\" (" + intRange(negLo, negHi) + ") \".\" decimal-part");
        }
        primitive("space");
        return rule(name, "(" + String.join(" | ", alts) + ") space");
    }

    private static BigInteger ceilStrict(BigDecimal v, boolean exclusive) {
        BigInteger c = v.setScale(0, RoundingMode.CEILING).toBigIntegerExact();
        if (exclusive && new BigDecimal(c).compareTo(v) == 0) c = c.add(BigInteger.ONE);
        return c;
    }

    private static BigInteger floorStrict(BigDecimal v, boolean exclusive) {
        BigInteger f = v.setScale(0, RoundingMode.FLOOR).toBigIntegerExact();
        if (exclusive && new BigDecimal(f).compareTo(v) == 0) f = f.subtract(BigInteger.ONE);
        return f;
    }

    /** Decimal integers in [min, max] without leading zeros ("-0" never). */
    static String intRange(BigInteger min, BigInteger max) {
        List<String> alts = new ArrayList<>();
        if (min.signum() < 0) {
            BigInteger negMax = min.negate(), negMin = max.signum() < 0 ? max.negate() : BigInteger.ONE;
            alts.add("\"-\" (" + natRange(negMin.toString(), negMax.toString()) + ")");
        }
        if (max.signum() >= 0) {
            BigInteger from = min.max(BigInteger.ZERO);
            alts.add(natRange(from.toString(), max.toString()));
        }
        return String.join(" | ", alts);
    }

    /** Naturals in [lo, hi] (decimal strings, lo <= hi). */
    private static String natRange(String lo, String hi) {
        List<String> alts = new ArrayList<>();
        for (int len = lo.length(); len <= hi.length(); len++) {
            String a = len == lo.length() ? lo : "1" + "0".repeat(len - 1);
            String b = len == hi.length() ? hi : "9".repeat(len);
            alts.add(sameLength(a, b));
        }
        return String.join(" | ", alts);
    }

    /** Digit strings of one length between a and b (inclusive, a <= b). */
    private static String sameLength(String a, String b) {
        if (a.isEmpty()) return "\"\"";
        if (a.equals(b)) return "\"" + a + "\"";
        char x = a.charAt(0), y = b.charAt(0);
        int rest = a.length() - 1;
        if (x == y) return "\"" + x + "\" (" + sameLength(a.substring(1), b.substring(1)) + ")";
        List<String> alts = new ArrayList<>();
        String any = rest == 0 ? "" : " [0-9]{" + rest + "}";
        // x followed by a's tail up to all nines, the digits strictly between, y followed by zeros up to b's tail.
        if (a.substring(1).chars().allMatch(c -> c == '0')) {
            alts.add("[" + x + "-" + (char) (y - 1) + "]" + any);
        } else {
            alts.add("\"" + x + "\" (" + sameLength(a.substring(1), "9".repeat(rest)) + ")");
            if (y - x > 1) alts.add("[" + (char) (x + 1) + "-" + (char) (y - 1) + "]" + any);
        }
        if (b.substring(1).chars().allMatch(c -> c == '9')) {
            alts.add("\"" + y + "\"" + any);
        } else {
            alts.add("\"" + y + "\" (" + sameLength("0".repeat(rest), b.substring(1)) + ")");
        }
        return String.join(" | ", alts);
    }
}
