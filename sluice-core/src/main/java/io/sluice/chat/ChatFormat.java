package io.sluice.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sluice.chat.output.OutputParser;
import io.sluice.chat.output.ToolFormat;
import io.sluice.chat.output.ToolFormats;
import io.sluice.engine.GenerationEvent;
import io.sluice.grammar.GrammarCache;
import io.sluice.grammar.GrammarException;
import io.sluice.grammar.TokenGrammar;
import io.sluice.model.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A model's chat format, for everything that runs chats on it (the HTTP server, the LangChain4j and
 * Spring AI models): its chat template, the tool-call format that template implies ({@link ToolFormats}),
 * whether it reasons, how tools and their calls and results reach the template, the grammar that forces
 * calls (tool choice required or a named function) or JSON output, and the parser that splits the
 * generated text into content, reasoning and tool calls. Fixed per model; thread-safe.
 */
public final class ChatFormat {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final ChatTemplate template;
    private final Tokenizer tokenizer;
    private final String bos, eos;
    private final GrammarCache grammars;
    private final ToolFormat toolFormat;
    private final boolean thinks;
    private final boolean toolsInPrompt;

    private ChatFormat(ChatTemplate template, Tokenizer tok, GrammarCache grammars) {
        this.template = template;
        this.tokenizer = tok;
        this.bos = tok.bos() >= 0 ? tok.tokenText(tok.bos()) : "";
        this.eos = tok.eos() >= 0 ? tok.tokenText(tok.eos()) : "";
        this.grammars = grammars;
        // The template says how the model writes tool calls and whether it reasons in <think> blocks or harmony channels.
        this.toolFormat = ToolFormats.forTemplate(template.source());
        this.thinks = template.source().contains("</think>") || toolFormat == ToolFormats.HARMONY || toolFormat == ToolFormats.COMMAND_R7B;
        // A template that knows no tools at all gets them described in a system message (the generic format);
        // one that renders them in a format Sluice does not parse keeps its own rendering.
        this.toolsInPrompt = !toolFormat.templateRendersTools() && !template.source().contains("tools");
    }

    /** @param grammars where the call and JSON grammars are compiled (and cached), for this tokenizer */
    public static ChatFormat of(ChatTemplate template, Tokenizer tokenizer, GrammarCache grammars) {
        return new ChatFormat(template, tokenizer, grammars);
    }

    public ChatTemplate template() {
        return template;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public GrammarCache grammars() {
        return grammars;
    }

    /** The BOS token's text ("" when the model has none). */
    public String bosText() {
        return bos;
    }

    public String eosText() {
        return eos;
    }

    public ToolFormat toolFormat() {
        return toolFormat;
    }

    /** The model reasons ({@code <think>} blocks, harmony's analysis channel, Command R7B's plan). */
    public boolean thinks() {
        return thinks;
    }

    /** The template knows no tools, so they are described in a system message (the generic format). */
    public boolean toolsInPrompt() {
        return toolsInPrompt;
    }

    /** Messages and tools as the template is to be given them. */
    public record Conversation(List<ChatMessage> messages, List<Map<String, Object>> tools) {
    }

    /**
     * The conversation as this model's template reads it: calls in the history in the family's shape, and the
     * tools either for the template ({@code tools}) or, where it knows none, described in a system message.
     *
     * @param tools  OpenAI-style tool definitions ({@code {"type":"function","function":{name, description, parameters}}})
     * @param choice null when no tools are offered (then {@code tools} is ignored)
     */
    public Conversation conversation(List<ChatMessage> messages, List<Map<String, Object>> tools, ToolChoice choice) {
        List<ChatMessage> msgs = toolFormat.history(messages);
        if (choice == null || tools == null || tools.isEmpty()) return new Conversation(msgs, null);
        if (toolsInPrompt) return new Conversation(toolFormat.prepare(msgs, tools(tools), choice.parallel(), !choice.forced()), null);
        return new Conversation(msgs, tools);
    }

    /** The template options for a conversation; {@code kwargs} are extra template variables (may be null). */
    public ChatOptions options(Conversation c, Map<String, Object> kwargs, boolean addGenerationPrompt) {
        return ChatOptions.defaults().withTools(c.tools()).withKwargs(kwargs).withAddGenerationPrompt(addGenerationPrompt).withSpecialTokens(bos, eos);
    }

    /**
     * The prompt with which of its characters came from the conversation's data (see {@link ChatTemplate#renderPrompt}).
     *
     * @throws io.sluice.template.TemplateException when the template rejects or fails on the conversation
     */
    public io.sluice.template.Rendered render(Conversation c, Map<String, Object> kwargs, boolean addGenerationPrompt) {
        return template.renderPrompt(c.messages(), options(c, kwargs, addGenerationPrompt));
    }

    /**
     * A rendered prompt as tokens: special tokens parsed only in the template's own text (the template writes
     * them as text; the same text typed in a message, a tool or a kwarg stays text, so a message cannot forge
     * a turn), BOS added when the model wants one and the template did not write it.
     */
    public int[] tokens(io.sluice.template.Rendered prompt) {
        int[] ids = tokenizer.encodePrompt(prompt.text(), false, prompt.untrusted());
        if (tokenizer.addBos() && tokenizer.bos() >= 0 && (ids.length == 0 || ids[0] != tokenizer.bos())) {
            int[] withBos = new int[ids.length + 1];
            withBos[0] = tokenizer.bos();
            System.arraycopy(ids, 0, withBos, 1, ids.length);
            ids = withBos;
        }
        return ids;
    }

    /** OpenAI-style tool definitions as the formats take them (name and parameters' schema). */
    public static List<ToolFormat.Tool> tools(List<Map<String, Object>> defs) {
        List<ToolFormat.Tool> out = new ArrayList<>();
        if (defs == null) return out;
        for (Map<String, Object> t : defs) {
            Map<?, ?> fn = (Map<?, ?>) t.get("function");
            Object params = fn.get("parameters");
            JsonNode schema = params == null ? null : JSON.valueToTree(params);
            out.add(new ToolFormat.Tool((String) fn.get("name"), schema));
        }
        return out;
    }

    /** One OpenAI-style tool definition. */
    public static Map<String, Object> tool(String name, String description, Map<String, Object> parameters) {
        Map<String, Object> fn = new java.util.LinkedHashMap<>();
        fn.put("name", name);
        if (description != null) fn.put("description", description);
        if (parameters != null) fn.put("parameters", parameters);
        Map<String, Object> t = new java.util.LinkedHashMap<>();
        t.put("type", "function");
        t.put("function", fn);
        return t;
    }

    /** The tools cannot make a grammar for their calls; the message says why. */
    public static final class InvalidToolsException extends IllegalArgumentException {
        public InvalidToolsException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * How one answer is read and constrained.
     *
     * @param prompt    the rendered prompt (a reasoning block it leaves open is where the answer starts)
     * @param tools     the offered tools (OpenAI-style); ignored when {@code choice} is null
     * @param choice    null when no tools are offered
     * @param reasoning split the reasoning out (only where the model {@link #thinks})
     * @throws InvalidToolsException when a forced call's grammar cannot be made of the tools' schemas
     */
    public Answer answer(String prompt, List<Map<String, Object>> tools, ToolChoice choice, boolean reasoning) {
        reasoning = reasoning && thinks;
        boolean startInReasoning = reasoning && prompt.stripTrailing().endsWith("<think>");
        TokenGrammar grammar = null;
        List<ToolFormat.Tool> offered = choice != null ? tools(tools) : List.of();
        if (choice != null) {
            List<ToolFormat.Tool> allowed = offered;
            if (choice.mode() == ToolChoice.Mode.NAMED) allowed = allowed.stream().filter(t -> t.name().equals(choice.function())).toList();
            // A marker format's auto grammar only guards calls the model may not make: one the tools' schemas
            // cannot give leaves the answer free (as before it existed) instead of refusing the request.
            boolean optional = !choice.forced() && !toolsInPrompt;
            String gbnf;
            try {
                // tool choice auto binds where the model was told to answer in the generic format's JSON, and in the
                // formats whose calls open with a marker from that marker on (the others return no grammar for it)
                gbnf = optional && toolFormat == ToolFormats.GENERIC ? null
                        : toolFormat.grammar(allowed, choice.parallel(), !choice.forced(), startInReasoning, ToolFormats.markers(tokenizer));
            } catch (GrammarException e) {
                if (!optional) throw new InvalidToolsException("A tool's parameters cannot constrain its calls: " + e.getMessage(), e);
                gbnf = null;
            }
            if (gbnf != null) {
                try {
                    grammar = grammars.gbnf(gbnf);
                } catch (GrammarException e) {
                    if (!optional) throw new InvalidToolsException("The tools' call grammar is not usable: " + e.getMessage(), e);
                }
            }
        }
        // Functionary v3.2 starts every answer with a recipient line, which plain answers lose too.
        boolean parse = choice != null || reasoning || toolFormat == ToolFormats.FUNCTIONARY_V3_2;
        OutputParser parser = parse ? toolFormat.parser(offered, reasoning, startInReasoning, toolFormat.ids()) : null;
        return new Answer(parser, grammar, tokenizer);
    }

    /**
     * The grammar of a JSON answer (response formats json_object and json_schema).
     *
     * @param schema null for any JSON object
     * @throws GrammarException when the schema is invalid or not supported
     */
    public static TokenGrammar jsonOutput(GrammarCache grammars, JsonNode schema) {
        return schema == null ? grammars.jsonObject() : grammars.jsonSchema(schema);
    }

    /** {@link #jsonOutput(GrammarCache, JsonNode)} with this model's grammars. */
    public TokenGrammar jsonOutput(JsonNode schema) {
        return jsonOutput(grammars, schema);
    }

    /**
     * How one chat answer is read: the parser that splits it into content, reasoning and tool calls (null
     * when the plain text is the answer), and the grammar a forced tool choice puts on it (or null).
     */
    public record Answer(OutputParser parser, TokenGrammar grammar, Tokenizer tokenizer) {
        /**
         * The text the parser reads for a token: its text, or a control token's own text (harmony's
         * {@code <|channel|>}, Mistral's {@code [TOOL_CALLS]} are control tokens that plain text leaves out).
         * End-of-generation tokens add nothing.
         */
        public String piece(GenerationEvent.Token t) {
            if (t.text().isEmpty() && tokenizer.isControl(t.id()) && !tokenizer.isEog(t.id())) return tokenizer.tokenText(t.id());
            return t.text();
        }
    }

    /**
     * An in-process chat request made ready to generate (what the LangChain4j and Spring AI models do with a
     * request, as the server does with an HTTP one): the conversation rendered through the template with its
     * tools, and the grammar that forces the calls or the JSON answer.
     *
     * @param prompt the rendered prompt
     * @param tokens the prompt as tokens
     * @param answer how the answer is parsed (and the forced calls' grammar)
     * @param grammar what the output must match (forced calls or JSON), or null
     */
    public record Prepared(String prompt, int[] tokens, Answer answer, TokenGrammar grammar) {
        /** A reader for one generation of this answer. */
        public Reader reader() {
            return new Reader(answer);
        }
    }

    /**
     * @param tools  OpenAI-style tool definitions; null or empty for none
     * @param choice how the tools may be used; null offers none (as tool choice "none")
     * @param json   the answer must be JSON
     * @param schema the JSON Schema it must match (null: any JSON object); only with {@code json}
     * @throws IllegalArgumentException for tools combined with a JSON answer, a schema that cannot be a grammar
     *                                  ({@link InvalidToolsException} for the tools' schemas)
     * @throws io.sluice.template.TemplateException when the template rejects or fails on the conversation
     */
    public Prepared prepare(List<ChatMessage> messages, List<Map<String, Object>> tools, ToolChoice choice, boolean json, JsonNode schema) {
        if (tools == null || tools.isEmpty()) {
            if (choice != null && choice.forced()) throw new IllegalArgumentException("a forced tool choice needs tools");
            choice = null;
            tools = null;
        }
        if (choice == null) tools = null;
        if (choice != null && choice.mode() == ToolChoice.Mode.NAMED) {
            String named = choice.function();
            if (tools(tools).stream().noneMatch(t -> t.name().equals(named))) {
                throw new IllegalArgumentException("the tool choice names the function '" + named + "', which is not among the tools");
            }
        }
        if (choice != null && json) throw new IllegalArgumentException("tools cannot be combined with a JSON response format (the calls have a grammar of their own)");
        TokenGrammar jsonGrammar = null;
        if (json) {
            try {
                jsonGrammar = jsonOutput(schema);
            } catch (GrammarException e) {
                throw new IllegalArgumentException("Invalid or unsupported JSON schema: " + e.getMessage(), e);
            }
        }
        Conversation c = conversation(messages, tools, choice);
        io.sluice.template.Rendered rendered = render(c, null, true);
        String prompt = rendered.text();
        Answer a = answer(prompt, tools, choice, true);
        return new Prepared(prompt, tokens(rendered), a, a.grammar() != null ? a.grammar() : jsonGrammar);
    }

    /**
     * One generation's text read as it streams: content, reasoning and complete tool calls, and the whole
     * answer at the end. Without a parser every piece of text is content. Not thread-safe.
     */
    public static final class Reader {
        private final Answer answer;
        private final io.sluice.chat.output.ChatOutput output = new io.sluice.chat.output.ChatOutput();

        Reader(Answer answer) {
            this.answer = answer;
        }

        /** What this token decides. */
        public List<io.sluice.chat.output.OutputDelta> push(GenerationEvent.Token t) {
            List<io.sluice.chat.output.OutputDelta> ds;
            if (answer.parser() != null) ds = answer.parser().push(answer.piece(t));
            else ds = t.text().isEmpty() ? List.of() : List.of(new io.sluice.chat.output.OutputDelta.Content(t.text()));
            output.addAll(ds);
            return ds;
        }

        /** The generation ended: the rest. */
        public List<io.sluice.chat.output.OutputDelta> finish() {
            List<io.sluice.chat.output.OutputDelta> ds = answer.parser() != null ? answer.parser().finish() : List.of();
            output.addAll(ds);
            return ds;
        }

        /** The answer so far (whole after {@link #finish}). */
        public io.sluice.chat.output.ChatOutput output() {
            return output;
        }
    }
}
