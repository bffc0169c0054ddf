package io.sluice.grammar;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.SplittableRandom;

/**
 * Random bounded JSON schemas for property tests: nesting up to three levels, objects with odd
 * property names and random required sets, arrays with item bounds, strings with lengths, patterns
 * or formats, integer and number bounds, enums of mixed values, type lists, anyOf/oneOf of
 * different types, $defs/$ref. Every string and array is bounded, so every document ends.
 */
public final class RandomSchemas {
    final SplittableRandom rng;
    private static final ObjectMapper JSON = new ObjectMapper();
    final ObjectNode defs = JSON.createObjectNode();

    public RandomSchemas(SplittableRandom rng) {
        this.rng = rng;
    }

    /** A new random schema (its $defs included). */
    public JsonNode schema() {
        ObjectNode s = any(0);
        if (defs.size() > 0) s.set("$defs", defs);
        return s;
    }

    ObjectNode any(int depth) {
        int kinds = depth >= 3 ? 6 : 11;
        return switch (rng.nextInt(kinds)) {
            case 0 -> string();
            case 1 -> integer();
            case 2 -> number();
            case 3 -> obj("type", "boolean");
            case 4 -> enumeration();
            case 5 -> typeList();
            case 6, 7 -> object(depth);
            case 8 -> array(depth);
            case 9 -> anyOf(depth);
            default -> ref(depth);
        };
    }

    ObjectNode obj(String k, String v) {
        ObjectNode o = JSON.createObjectNode();
        o.put(k, v);
        return o;
    }

    ObjectNode string() {
        ObjectNode s = obj("type", "string");
        switch (rng.nextInt(4)) {
            case 0 -> {
                String[] patterns = {"^[a-z]{1,4}$", "^\\d{3}-\\d{2}$", "^(yes|no|maybe)$", "[A-Z][a-z]{0,3}", "^\\w{2}\\.\\w?$", "^[^a-c\"]{0,3}$", "^(ab)+$"};
                String p = patterns[rng.nextInt(patterns.length)];
                if (p.equals("^(ab)+$")) p = "^(ab){1,3}$";
                s.put("pattern", p);
            }
            case 1 -> {
                String[] formats = {"date", "time", "date-time", "uuid", "email", "ipv4"};
                s.put("format", formats[rng.nextInt(formats.length)]);
            }
            default -> {
                int min = rng.nextInt(3);
                if (rng.nextBoolean()) s.put("minLength", min);
                s.put("maxLength", min + rng.nextInt(5));
            }
        }
        return s;
    }

    ObjectNode integer() {
        ObjectNode s = obj("type", "integer");
        long lo = rng.nextInt(-1000, 1000);
        long hi = lo + rng.nextInt(0, 3000);
        if (rng.nextBoolean()) s.put(rng.nextBoolean() ? "minimum" : "exclusiveMinimum", lo);
        if (rng.nextBoolean()) s.put(rng.nextBoolean() ? "maximum" : "exclusiveMaximum", hi + 2);
        return s;
    }

    ObjectNode number() {
        ObjectNode s = obj("type", "number");
        if (rng.nextBoolean()) {
            double lo = rng.nextInt(-50, 50) + (rng.nextBoolean() ? 0.5 : 0);
            s.put(rng.nextBoolean() ? "minimum" : "exclusiveMinimum", lo);
            if (rng.nextBoolean()) s.put(rng.nextBoolean() ? "maximum" : "exclusiveMaximum", lo + 2 + rng.nextInt(100));
        }
        return s;
    }

    ObjectNode enumeration() {
        ObjectNode s = JSON.createObjectNode();
        ArrayNode e = s.putArray("enum");
        e.add("red").add("gr\"een").add(7).add(JSON.nullNode()).add(2.5).add("日本");
        if (rng.nextBoolean()) e.add(JSON.createObjectNode().put("k", 1));
        if (rng.nextBoolean()) s.put("type", "string");
        return s;
    }

    ObjectNode typeList() {
        ObjectNode s = JSON.createObjectNode();
        s.putArray("type").add("integer").add("null");
        s.put("maximum", 99);
        return s;
    }

    ObjectNode object(int depth) {
        ObjectNode s = obj("type", "object");
        ObjectNode props = s.putObject("properties");
        ArrayNode req = JSON.createArrayNode();
        String[] names = {"a", "name", "with space", "q\"uote", "ünï", "x_1", "back\\slash", "n"};
        int n = 1 + rng.nextInt(4);
        for (int i = 0; i < n; i++) {
            String name = names[rng.nextInt(names.length)];
            if (props.has(name)) continue;
            props.set(name, any(depth + 1));
            if (rng.nextBoolean()) req.add(name);
        }
        if (!req.isEmpty()) s.set("required", req);
        int extra = rng.nextInt(6);
        if (extra == 0) s.put("additionalProperties", false);
        else if (extra == 1 && depth >= 2) s.set("additionalProperties", obj("type", "boolean"));
        if (rng.nextInt(8) == 0) s.putArray("type").add("object").add("null");
        return s;
    }

    ObjectNode array(int depth) {
        ObjectNode s = obj("type", "array");
        if (rng.nextInt(5) == 0) {
            ArrayNode prefix = s.putArray("prefixItems");
            prefix.add(any(depth + 1)).add(obj("type", "boolean"));
            s.put("items", false);
            return s;
        }
        s.set("items", any(depth + 1));
        int min = rng.nextInt(3);
        s.put("minItems", min);
        s.put("maxItems", min + rng.nextInt(3));
        return s;
    }

    ObjectNode anyOf(int depth) {
        ObjectNode s = JSON.createObjectNode();
        ArrayNode alts = s.putArray(rng.nextBoolean() ? "anyOf" : "oneOf");
        // Alternatives of different types, so oneOf's "exactly one" holds too.
        alts.add(string());
        alts.add(rng.nextBoolean() ? object(depth + 1) : obj("type", "null"));
        return s;
    }

    ObjectNode ref(int depth) {
        String name = "d" + defs.size();
        defs.set(name, JSON.createObjectNode()); // reserve the name before nested refs take the next ones
        defs.set(name, object(depth + 1));
        return obj("$ref", "#/$defs/" + name);
    }
}
