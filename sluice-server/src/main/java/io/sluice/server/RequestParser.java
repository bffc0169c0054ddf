package io.sluice.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sluice.engine.SamplingParams;
import io.sluice.chat.ChatFormat;
import io.sluice.chat.ToolChoice;
import io.sluice.grammar.GrammarCache;
import io.sluice.grammar.GrammarException;
import io.sluice.grammar.TokenGrammar;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Validates OpenAI request bodies: every wrong type, range or unsupported option becomes a 400 with the
 * offending parameter named, so a client's mistake never reaches the engine.
 */
final class RequestParser {
    static final int MAX_STOP_STRINGS = 16;
    static final int COMPLETIONS_DEFAULT_MAX_TOKENS = 16; // OpenAI's default for /v1/completions

    private static final Set<String> COMMON = Set.of(
            "model", "stream", "stream_options", "max_tokens", "temperature", "top_p", "n", "stop", "seed",
            "presence_penalty", "frequency_penalty", "logit_bias", "user", "metadata", "store", "service_tier",
            // llama.cpp-style extras
            "top_k", "min_p", "repeat_penalty", "repeat_last_n", "ignore_eos", "grammar", "json_schema");
    private static final Set<String> CHAT_ONLY = Set.of(
            "messages", "chat_template_kwargs", "add_generation_prompt", "max_completion_tokens", "logprobs", "top_logprobs", "tools", "tool_choice",
            "parallel_tool_calls", "response_format", "modalities", "audio", "functions", "function_call",
            "reasoning_effort", "reasoning_format", "prediction", "web_search_options");
    private static final Set<String> COMPLETIONS_ONLY = Set.of("prompt", "suffix", "echo", "best_of", "logprobs");

    private final int vocabSize;
    private final int contextLength;
    private final GrammarCache grammars;

    RequestParser(int vocabSize, int contextLength, GrammarCache grammars) {
        this.vocabSize = vocabSize;
        this.contextLength = contextLength;
        this.grammars = grammars;
    }

    ParsedRequest parseChat(JsonNode body) {
        ObjectNode o = object(body);
        rejectUnknown(o, COMMON, CHAT_ONLY);
        ChatInput input = ChatInput.parse(o);
        rejectIfSet(o, "functions", "functions are not supported by this server");
        rejectIfSet(o, "function_call", "function_call is not supported by this server");
        rejectIfSet(o, "audio", "audio output is not supported by this server");
        ToolChoice tools = toolChoice(o, input);
        if (tools == null && input.tools() != null) input = input.withTools(null); // tool_choice "none": the tools are not offered
        boolean reasoning = reasoningFormat(o);
        String effort = string(o, "reasoning_effort");
        if (effort != null) {
            if (!Set.of("low", "medium", "high").contains(effort)) throw ApiException.invalid("reasoning_effort", "reasoning_effort must be low, medium or high (got '" + effort + "')");
            if (input.kwargs() == null || !input.kwargs().containsKey("reasoning_effort")) input = input.withKwarg("reasoning_effort", effort);
        }
        JsonNode modalities = value(o, "modalities");
        if (modalities != null) {
            if (!modalities.isArray()) throw ApiException.invalid("modalities", "modalities must be an array");
            for (JsonNode m : modalities) {
                if (!m.isTextual() || !m.asText().equals("text")) throw ApiException.invalid("modalities", "only the 'text' modality is supported");
            }
        }
        Integer maxTokens = integerOrNull(o, "max_completion_tokens", 1, Integer.MAX_VALUE);
        if (maxTokens == null) maxTokens = integerOrNull(o, "max_tokens", 1, Integer.MAX_VALUE);
        Boolean logprobs = bool(o, "logprobs");
        Integer top = integerOrNull(o, "top_logprobs", 0, 20);
        if (top != null && !Boolean.TRUE.equals(logprobs)) throw ApiException.invalid("top_logprobs", "top_logprobs requires logprobs to be true");
        int topLogprobs = Boolean.TRUE.equals(logprobs) ? (top == null ? 0 : top) : -1;
        ParsedRequest p = common(o, input, null, null, maxTokens, 0, topLogprobs);
        if (tools != null && p.grammar() != null) {
            throw ApiException.invalid("tools", "tools cannot be combined with response_format, grammar or json_schema (the calls have a grammar of their own)");
        }
        return p.withChatOutput(tools, reasoning);
    }

    /** tool_choice and parallel_tool_calls; null when no tools are offered (none given, or tool_choice "none"). */
    private static ToolChoice toolChoice(ObjectNode o, ChatInput input) {
        JsonNode tc = value(o, "tool_choice");
        Boolean parallel = bool(o, "parallel_tool_calls");
        ToolChoice.Mode mode = ToolChoice.Mode.AUTO;
        String function = null;
        if (tc != null) {
            if (tc.isTextual()) {
                switch (tc.asText()) {
                    case "none" -> {
                        return null;
                    }
                    case "auto" -> mode = ToolChoice.Mode.AUTO;
                    case "required" -> mode = ToolChoice.Mode.REQUIRED;
                    default -> throw ApiException.invalid("tool_choice", "tool_choice must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}} (got '" + tc.asText() + "')");
                }
            } else if (tc.isObject()) {
                if (!tc.path("type").asText("").equals("function")) throw ApiException.invalid("tool_choice.type", "tool_choice.type must be \"function\"");
                JsonNode name = tc.path("function").path("name");
                if (!name.isTextual()) throw ApiException.invalid("tool_choice.function.name", "tool_choice.function.name must be a string");
                mode = ToolChoice.Mode.NAMED;
                function = name.asText();
            } else {
                throw ApiException.invalid("tool_choice", "tool_choice must be a string or an object");
            }
        }
        if (input.tools() == null) {
            if (tc != null && mode != ToolChoice.Mode.AUTO) throw ApiException.invalid("tool_choice", "tool_choice '" + (function != null ? function : "required") + "' needs 'tools'");
            return null;
        }
        if (function != null) {
            boolean found = false;
            for (var t : input.tools()) found |= function.equals(((java.util.Map<?, ?>) t.get("function")).get("name"));
            if (!found) throw ApiException.invalid("tool_choice.function.name", "tool_choice names the function '" + function + "', which is not in 'tools'");
        }
        return new ToolChoice(mode, function, parallel == null || parallel);
    }

    /** llama-server's reasoning_format: none keeps the reasoning inline in the content; deepseek and auto split it out. */
    private static boolean reasoningFormat(ObjectNode o) {
        String f = string(o, "reasoning_format");
        if (f == null) return true;
        return switch (f) {
            case "none" -> false;
            case "auto", "deepseek" -> true;
            default -> throw ApiException.invalid("reasoning_format", "reasoning_format must be none, auto or deepseek (got '" + f + "')");
        };
    }

    ParsedRequest parseCompletion(JsonNode body) {
        ObjectNode o = object(body);
        rejectUnknown(o, COMMON, COMPLETIONS_ONLY);
        JsonNode prompt = o.get("prompt");
        if (prompt == null || prompt.isNull()) throw ApiException.invalid("prompt", "'prompt' is required");
        String text = null;
        int[] tokens = null;
        if (prompt.isTextual()) {
            text = prompt.asText();
        } else if (prompt.isArray()) {
            if (prompt.isEmpty()) throw ApiException.invalid("prompt", "'prompt' must not be an empty array");
            if (prompt.get(0).isTextual() || prompt.get(0).isArray()) {
                if (prompt.size() != 1) throw ApiException.invalid("prompt", "only one prompt per request is supported (got " + prompt.size() + ")");
                if (prompt.get(0).isTextual()) text = prompt.get(0).asText();
                else tokens = tokenIds(prompt.get(0));
            } else {
                tokens = tokenIds(prompt);
            }
        } else {
            throw ApiException.invalid("prompt", "'prompt' must be a string, an array of strings or an array of token ids");
        }
        if (text != null && text.isEmpty()) throw ApiException.invalid("prompt", "'prompt' must not be empty");
        JsonNode suffix = value(o, "suffix");
        if (suffix != null && !(suffix.isTextual() && suffix.asText().isEmpty())) throw ApiException.invalid("suffix", "suffix is not supported by this server");
        if (Boolean.TRUE.equals(bool(o, "echo"))) throw ApiException.invalid("echo", "echo is not supported by this server");
        Integer bestOf = integerOrNull(o, "best_of", 1, Integer.MAX_VALUE);
        if (bestOf != null && bestOf != 1) throw ApiException.invalid("best_of", "best_of must be 1 (only one completion per request is supported)");
        Integer maxTokens = integerOrNull(o, "max_tokens", 1, Integer.MAX_VALUE);
        Integer logprobs = integerOrNull(o, "logprobs", 0, 20);
        return common(o, null, text, tokens, maxTokens, COMPLETIONS_DEFAULT_MAX_TOKENS, logprobs == null ? -1 : logprobs);
    }

    private ParsedRequest common(ObjectNode o, ChatInput input, String text, int[] tokens,
                                 Integer maxTokens, int defaultMaxTokens, int topLogprobs) {
        boolean chat = input != null;
        String model = string(o, "model");
        if (maxTokens != null && maxTokens > contextLength) {
            throw ApiException.invalid(chat && o.has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens",
                    "max_tokens is too large: " + maxTokens + ". This model's context length is " + contextLength + " tokens.");
        }
        Integer n = integerOrNull(o, "n", 1, Integer.MAX_VALUE);
        if (n != null && n != 1) throw ApiException.invalid("n", "n must be 1: only one choice per request is supported (got " + n + ")");
        Boolean stream = bool(o, "stream");
        boolean includeUsage = false;
        JsonNode so = value(o, "stream_options");
        if (so != null) {
            if (!so.isObject()) throw ApiException.invalid("stream_options", "stream_options must be an object");
            for (Iterator<String> it = so.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                if (!k.equals("include_usage")) throw ApiException.invalid("stream_options." + k, "Unrecognized stream option: " + k);
            }
            JsonNode iu = so.get("include_usage");
            if (iu != null && !iu.isNull() && !iu.isBoolean()) throw ApiException.invalid("stream_options.include_usage", "stream_options.include_usage must be a boolean");
            includeUsage = iu != null && iu.asBoolean();
        }
        List<String> stop = stops(value(o, "stop"));

        Double temperature = number(o, "temperature", 0, 2);
        Double topP = number(o, "top_p", 0, 1);
        Integer topK = integerOrNull(o, "top_k", 0, Integer.MAX_VALUE);
        Double minP = number(o, "min_p", 0, 1);
        Double presence = number(o, "presence_penalty", -2, 2);
        Double frequency = number(o, "frequency_penalty", -2, 2);
        Double repeat = number(o, "repeat_penalty", 0, 10);
        if (repeat != null && repeat == 0) throw ApiException.invalid("repeat_penalty", "repeat_penalty must be > 0");
        Integer lastN = integerOrNull(o, "repeat_last_n", -1, Integer.MAX_VALUE);
        Long seed = longOrNull(o, "seed");
        Map<Integer, Float> bias = logitBias(value(o, "logit_bias"));
        Boolean ignoreEos = bool(o, "ignore_eos");

        float temp = temperature == null ? 1f : temperature.floatValue();
        float p = topP == null ? 1f : topP.floatValue();
        if (p == 0f) { // top_p 0 keeps only the most likely token
            temp = 0f;
            p = 1f;
        }
        SamplingParams sampling = new SamplingParams(
                temp,
                topK == null ? 0 : topK,
                p,
                minP == null ? 0f : minP.floatValue(),
                repeat == null ? 1f : repeat.floatValue(),
                frequency == null ? 0f : frequency.floatValue(),
                presence == null ? 0f : presence.floatValue(),
                // A window longer than the context means the whole context; clamping keeps the sampler's window array small.
                lastN == null ? -1 : Math.min(lastN, contextLength),
                seed != null ? seed : ThreadLocalRandom.current().nextLong(),
                bias);
        int max = maxTokens != null ? maxTokens : defaultMaxTokens;
        TokenGrammar grammar = constraint(o, chat);
        return new ParsedRequest(input, model, text, tokens, max, sampling, stop, Boolean.TRUE.equals(ignoreEos),
                topLogprobs, Boolean.TRUE.equals(stream), includeUsage, grammar, null, chat);
    }

    /**
     * The output constraint: OpenAI's response_format (text, json_object, json_schema; chat only) or
     * llama.cpp's grammar (GBNF) and json_schema fields; at most one. A schema or grammar that
     * cannot be used is a 400 naming the field and the problem, never unconstrained text.
     */
    private TokenGrammar constraint(ObjectNode o, boolean chat) {
        JsonNode rf = chat ? value(o, "response_format") : null;
        JsonNode gbnf = value(o, "grammar");
        JsonNode schema = value(o, "json_schema");
        String param = null;
        JsonNode schemaNode = null;
        boolean anyObject = false;
        if (rf != null) {
            if (!rf.isObject() || !rf.path("type").isTextual()) throw ApiException.invalid("response_format", "response_format must be an object with a string 'type'");
            String type = rf.get("type").asText();
            switch (type) {
                case "text" -> onlyKeys(rf, "response_format", Set.of("type"));
                case "json_object" -> {
                    // llama.cpp's extension: a schema right inside response_format.
                    onlyKeys(rf, "response_format", Set.of("type", "schema"));
                    param = "response_format";
                    schemaNode = rf.get("schema");
                    anyObject = schemaNode == null || schemaNode.isNull();
                }
                case "json_schema" -> {
                    onlyKeys(rf, "response_format", Set.of("type", "json_schema"));
                    JsonNode js = rf.get("json_schema");
                    if (js == null || !js.isObject()) throw ApiException.invalid("response_format.json_schema", "response_format.json_schema must be an object with a 'schema'");
                    onlyKeys(js, "response_format.json_schema", Set.of("name", "description", "schema", "strict"));
                    if (js.has("name") && !js.get("name").isTextual()) throw ApiException.invalid("response_format.json_schema.name", "response_format.json_schema.name must be a string");
                    if (js.has("strict") && !js.get("strict").isBoolean() && !js.get("strict").isNull()) {
                        throw ApiException.invalid("response_format.json_schema.strict", "response_format.json_schema.strict must be a boolean");
                    }
                    schemaNode = js.get("schema");
                    if (schemaNode == null || schemaNode.isNull()) throw ApiException.invalid("response_format.json_schema.schema", "response_format.json_schema.schema is required");
                    param = "response_format.json_schema.schema";
                }
                default -> throw ApiException.invalid("response_format.type", "response_format type '" + type + "' is not supported (text, json_object or json_schema)");
            }
        }
        if (gbnf != null) {
            if (param != null) throw ApiException.invalid("grammar", "give only one of response_format, grammar and json_schema");
            if (!gbnf.isTextual()) throw ApiException.invalid("grammar", "'grammar' must be a string of GBNF");
            try {
                return grammars.gbnf(gbnf.asText());
            } catch (GrammarException e) {
                throw ApiException.invalid("grammar", "Invalid grammar: " + e.getMessage(), "invalid_grammar");
            }
        }
        if (schema != null) {
            if (param != null) throw ApiException.invalid("json_schema", "give only one of response_format, grammar and json_schema");
            param = "json_schema";
            schemaNode = schema;
        }
        if (param == null) return null;
        try {
            return ChatFormat.jsonOutput(grammars, anyObject ? null : schemaNode);
        } catch (GrammarException e) {
            throw ApiException.invalid(param, "Invalid or unsupported JSON schema: " + e.getMessage(), "invalid_json_schema");
        }
    }

    private static void onlyKeys(JsonNode o, String where, Set<String> allowed) {
        for (Iterator<String> it = o.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!allowed.contains(k)) throw ApiException.invalid(where + "." + k, "Unrecognized field in " + where + ": " + k);
        }
    }

    private static ObjectNode object(JsonNode body) {
        if (body == null || !body.isObject()) throw ApiException.invalid(null, "The request body must be a JSON object");
        return (ObjectNode) body;
    }

    @SafeVarargs
    private static void rejectUnknown(ObjectNode o, Set<String>... allowed) {
        for (Iterator<String> it = o.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            boolean ok = false;
            for (Set<String> s : allowed) ok |= s.contains(k);
            if (!ok) throw ApiException.invalid(k, "Unrecognized request argument supplied: " + k);
        }
    }

    private static void rejectIfSet(ObjectNode o, String name, String message) {
        JsonNode v = value(o, name);
        if (v != null && !(v.isArray() && v.isEmpty())) throw ApiException.invalid(name, message);
    }

    /** The field's value, or null when absent or JSON null (OpenAI treats null as "not given"). */
    private static JsonNode value(ObjectNode o, String name) {
        JsonNode v = o.get(name);
        return v == null || v.isNull() ? null : v;
    }

    private static String string(ObjectNode o, String name) {
        JsonNode v = value(o, name);
        if (v == null) return null;
        if (!v.isTextual()) throw ApiException.invalid(name, "'" + name + "' must be a string");
        return v.asText();
    }

    private static Boolean bool(ObjectNode o, String name) {
        JsonNode v = value(o, name);
        if (v == null) return null;
        if (!v.isBoolean()) throw ApiException.invalid(name, "'" + name + "' must be a boolean");
        return v.asBoolean();
    }

    private static Double number(ObjectNode o, String name, double min, double max) {
        JsonNode v = value(o, name);
        if (v == null) return null;
        if (!v.isNumber()) throw ApiException.invalid(name, "'" + name + "' must be a number");
        double d = v.asDouble();
        if (!(d >= min && d <= max)) throw ApiException.invalid(name, "'" + name + "' must be between " + fmt(min) + " and " + fmt(max) + " (got " + v.asText() + ")");
        return d;
    }

    private static Long longOrNull(ObjectNode o, String name) {
        JsonNode v = value(o, name);
        if (v == null) return null;
        if (!isWhole(v) || !v.canConvertToLong()) throw ApiException.invalid(name, "'" + name + "' must be an integer");
        return v.asLong();
    }

    private static Integer integerOrNull(ObjectNode o, String name, int min, int max) {
        JsonNode v = value(o, name);
        if (v == null) return null;
        if (!isWhole(v)) throw ApiException.invalid(name, "'" + name + "' must be an integer");
        if (!v.canConvertToInt() || v.asInt() < min || v.asInt() > max) {
            throw ApiException.invalid(name, "'" + name + "' must be " + (max == Integer.MAX_VALUE ? ">= " + min : "between " + min + " and " + max) + " (got " + v.asText() + ")");
        }
        return v.asInt();
    }

    private static boolean isWhole(JsonNode v) {
        if (v.isIntegralNumber()) return true;
        return v.isFloatingPointNumber() && Double.isFinite(v.asDouble()) && v.asDouble() == Math.rint(v.asDouble());
    }

    private static String fmt(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
    }

    private int[] tokenIds(JsonNode arr) {
        if (arr.isEmpty()) throw ApiException.invalid("prompt", "'prompt' must not be empty");
        int[] ids = new int[arr.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode t = arr.get(i);
            if (!t.isIntegralNumber() || !t.canConvertToInt() || t.asInt() < 0 || t.asInt() >= vocabSize) {
                throw ApiException.invalid("prompt", "prompt token " + i + " is not a token id in 0.." + (vocabSize - 1) + ": " + t);
            }
            ids[i] = t.asInt();
        }
        return ids;
    }

    private static List<String> stops(JsonNode v) {
        if (v == null) return List.of();
        List<String> out = new ArrayList<>();
        if (v.isTextual()) {
            out.add(v.asText());
        } else if (v.isArray()) {
            if (v.size() > MAX_STOP_STRINGS) throw ApiException.invalid("stop", "at most " + MAX_STOP_STRINGS + " stop sequences are supported (got " + v.size() + ")");
            for (JsonNode s : v) {
                if (!s.isTextual()) throw ApiException.invalid("stop", "'stop' must be a string or an array of strings");
                out.add(s.asText());
            }
        } else {
            throw ApiException.invalid("stop", "'stop' must be a string or an array of strings");
        }
        for (String s : out) if (s.isEmpty()) throw ApiException.invalid("stop", "stop sequences must not be empty");
        return out;
    }

    private Map<Integer, Float> logitBias(JsonNode v) {
        if (v == null) return Map.of();
        if (!v.isObject()) throw ApiException.invalid("logit_bias", "'logit_bias' must be an object mapping token ids to numbers");
        Map<Integer, Float> out = new HashMap<>();
        for (var it = v.fields(); it.hasNext(); ) {
            var e = it.next();
            int id;
            try {
                id = Integer.parseInt(e.getKey().strip());
            } catch (NumberFormatException ex) {
                throw ApiException.invalid("logit_bias", "logit_bias key '" + e.getKey() + "' is not a token id");
            }
            if (id < 0 || id >= vocabSize) throw ApiException.invalid("logit_bias", "logit_bias token id " + id + " is outside the vocabulary (0.." + (vocabSize - 1) + ")");
            JsonNode b = e.getValue();
            if (!b.isNumber() || !(b.asDouble() >= -100 && b.asDouble() <= 100)) throw ApiException.invalid("logit_bias", "logit_bias values must be numbers between -100 and 100");
            out.put(id, (float) b.asDouble());
        }
        return out;
    }
}
