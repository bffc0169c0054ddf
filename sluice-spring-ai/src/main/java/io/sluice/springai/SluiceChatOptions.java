package io.sluice.springai;

import org.springframework.ai.chat.prompt.ChatOptions;
import org.springframework.ai.model.tool.DefaultToolCallingChatOptions;
import org.springframework.ai.model.tool.StructuredOutputChatOptions;
import org.springframework.ai.model.tool.ToolCallingChatOptions;
import org.springframework.ai.tool.ToolCallback;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Options of the {@link SluiceChatModel}: Spring AI's sampling options, its tool callbacks (ChatClient puts
 * the request's tools here), a JSON Schema for structured output, and how the tools may be used:
 * <ul>
 *   <li>{@code "auto"} (the default): the model may call them or answer;</li>
 *   <li>{@code "none"}: they are not offered;</li>
 *   <li>{@code "required"}: every answer is one or more calls (as OpenAI's required; a ChatClient tool loop then
 *       never ends by itself);</li>
 *   <li>{@code "required_first"}: a call is required on a turn that answers the user (the conversation ends with
 *       a user message), the turn after the tools' results may answer - a tool loop with a model that would not
 *       call tools unprompted;</li>
 *   <li>any other value: the name of the one function that must be called (as OpenAI's named choice).</li>
 * </ul>
 * Forced calls are constrained by a grammar made of the tools' input schemas, so their arguments match them.
 */
public final class SluiceChatOptions implements ToolCallingChatOptions, StructuredOutputChatOptions {
    public static final String AUTO = "auto", NONE = "none", REQUIRED = "required", REQUIRED_FIRST = "required_first";

    private final String model;
    private final Double frequencyPenalty, presencePenalty, temperature, topP;
    private final Integer maxTokens, topK;
    private final List<String> stopSequences;
    private final List<ToolCallback> toolCallbacks;
    private final Map<String, Object> toolContext;
    private final String toolChoice;
    private final Boolean parallelToolCalls;
    private final Long seed;
    private final String outputSchema;

    private SluiceChatOptions(String model, Double frequencyPenalty, Double presencePenalty, Double temperature, Double topP, Integer maxTokens,
                              Integer topK, List<String> stopSequences, List<ToolCallback> toolCallbacks, Map<String, Object> toolContext,
                              String toolChoice, Boolean parallelToolCalls, Long seed, String outputSchema) {
        this.model = model;
        this.frequencyPenalty = frequencyPenalty;
        this.presencePenalty = presencePenalty;
        this.temperature = temperature;
        this.topP = topP;
        this.maxTokens = maxTokens;
        this.topK = topK;
        this.stopSequences = stopSequences == null ? null : List.copyOf(stopSequences);
        this.toolCallbacks = toolCallbacks == null ? List.of() : List.copyOf(toolCallbacks);
        this.toolContext = toolContext == null ? Map.of() : Map.copyOf(toolContext);
        this.toolChoice = toolChoice;
        this.parallelToolCalls = parallelToolCalls;
        this.seed = seed;
        this.outputSchema = outputSchema;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** These options, or Spring AI's generic ones (any ChatOptions, tool callbacks and an output schema included) as Sluice's. */
    public static SluiceChatOptions from(ChatOptions o) {
        if (o instanceof SluiceChatOptions s) return s;
        Builder b = builder();
        if (o == null) return b.build();
        b.model(o.getModel()).frequencyPenalty(o.getFrequencyPenalty()).maxTokens(o.getMaxTokens()).presencePenalty(o.getPresencePenalty())
                .stopSequences(o.getStopSequences()).temperature(o.getTemperature()).topK(o.getTopK()).topP(o.getTopP());
        if (o instanceof ToolCallingChatOptions t) {
            if (t.getToolCallbacks() != null) b.toolCallbacks(t.getToolCallbacks());
            if (t.getToolContext() != null) b.toolContext(t.getToolContext());
        }
        if (o instanceof StructuredOutputChatOptions s) b.outputSchema(s.getOutputSchema());
        return b.build();
    }

    @Override
    public String getModel() {
        return model;
    }

    @Override
    public Double getFrequencyPenalty() {
        return frequencyPenalty;
    }

    @Override
    public Integer getMaxTokens() {
        return maxTokens;
    }

    @Override
    public Double getPresencePenalty() {
        return presencePenalty;
    }

    @Override
    public List<String> getStopSequences() {
        return stopSequences;
    }

    @Override
    public Double getTemperature() {
        return temperature;
    }

    @Override
    public Integer getTopK() {
        return topK;
    }

    @Override
    public Double getTopP() {
        return topP;
    }

    @Override
    public List<ToolCallback> getToolCallbacks() {
        return toolCallbacks;
    }

    @Override
    public Map<String, Object> getToolContext() {
        return toolContext;
    }

    /** auto, none, required, required_first or a function's name; null is auto. */
    public String getToolChoice() {
        return toolChoice;
    }

    /** Whether an answer may make several calls (OpenAI's parallel_tool_calls); null is true. */
    public Boolean getParallelToolCalls() {
        return parallelToolCalls;
    }

    /** The sampling seed (repeatable answers); null: the model's, else random. */
    public Long getSeed() {
        return seed;
    }

    @Override
    public String getOutputSchema() {
        return outputSchema;
    }

    @Override
    public Builder mutate() {
        Builder b = new Builder();
        b.model(model).frequencyPenalty(frequencyPenalty).maxTokens(maxTokens).presencePenalty(presencePenalty).stopSequences(stopSequences)
                .temperature(temperature).topK(topK).topP(topP).toolCallbacks(new java.util.ArrayList<>(toolCallbacks))
                .toolContext(new java.util.HashMap<>(toolContext));
        b.toolChoice = toolChoice;
        b.parallelToolCalls = parallelToolCalls;
        b.seed = seed;
        b.outputSchema = outputSchema;
        return b;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SluiceChatOptions s && Objects.equals(model, s.model) && Objects.equals(frequencyPenalty, s.frequencyPenalty)
                && Objects.equals(presencePenalty, s.presencePenalty) && Objects.equals(temperature, s.temperature) && Objects.equals(topP, s.topP)
                && Objects.equals(maxTokens, s.maxTokens) && Objects.equals(topK, s.topK) && Objects.equals(stopSequences, s.stopSequences)
                && toolCallbacks.equals(s.toolCallbacks) && toolContext.equals(s.toolContext) && Objects.equals(toolChoice, s.toolChoice)
                && Objects.equals(parallelToolCalls, s.parallelToolCalls) && Objects.equals(seed, s.seed)
                && Objects.equals(outputSchema, s.outputSchema);
    }

    @Override
    public int hashCode() {
        return Objects.hash(model, temperature, topP, topK, maxTokens, toolCallbacks, toolChoice, outputSchema);
    }

    @Override
    public String toString() {
        return "SluiceChatOptions{temperature=" + temperature + ", topP=" + topP + ", topK=" + topK + ", maxTokens=" + maxTokens
                + ", tools=" + toolCallbacks.size() + ", toolChoice=" + toolChoice + ", outputSchema=" + (outputSchema != null) + "}";
    }

    /** Spring AI's tool-calling options builder, with the tool choice and the output schema. */
    public static final class Builder extends DefaultToolCallingChatOptions.Builder<Builder> implements StructuredOutputChatOptions.Builder<Builder> {
        String toolChoice;
        Boolean parallelToolCalls;
        Long seed;
        String outputSchema;

        public Builder parallelToolCalls(Boolean p) {
            this.parallelToolCalls = p;
            return this;
        }

        public Builder seed(Long s) {
            this.seed = s;
            return this;
        }

        /** auto, none, required, required_first or a function's name. */
        public Builder toolChoice(String choice) {
            this.toolChoice = choice;
            return this;
        }

        @Override
        public Builder outputSchema(String schema) {
            this.outputSchema = schema;
            return this;
        }

        @Override
        public Builder combineWith(ChatOptions.Builder<?> other) {
            super.combineWith(other);
            if (other instanceof Builder s) {
                if (s.toolChoice != null) toolChoice = s.toolChoice;
                if (s.parallelToolCalls != null) parallelToolCalls = s.parallelToolCalls;
                if (s.seed != null) seed = s.seed;
                if (s.outputSchema != null) outputSchema = s.outputSchema;
            } else if (other != null && other.build() instanceof StructuredOutputChatOptions s && s.getOutputSchema() != null) {
                outputSchema = s.getOutputSchema();
            }
            return this;
        }

        @Override
        public SluiceChatOptions build() {
            return new SluiceChatOptions(model, frequencyPenalty, presencePenalty, temperature, topP, maxTokens, topK, stopSequences, toolCallbacks,
                    toolContext, toolChoice, parallelToolCalls, seed, outputSchema);
        }
    }
}
