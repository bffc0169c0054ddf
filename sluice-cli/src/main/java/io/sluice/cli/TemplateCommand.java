package io.sluice.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sluice.chat.ChatTemplate;
import io.sluice.chat.output.ToolFormats;
import io.sluice.gguf.GGUFFile;
import io.sluice.model.tokenizer.Tokenizer;
import io.sluice.server.ApiException;
import io.sluice.server.ChatInput;
import io.sluice.template.TemplateException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "template", description = "Print the prompt the model's chat template makes of a conversation (what the server would give the model).")
final class TemplateCommand implements Callable<Integer> {
    @Option(names = {"-m", "--model"}, description = "GGUF file: its tokenizer.chat_template and BOS/EOS tokens")
    Path model;

    @Option(names = "--messages", required = true, description = "JSON file: a chat request ({\"messages\": [...], \"tools\": [...], \"chat_template_kwargs\": {...}}) or just the messages array")
    Path messages;

    @Option(names = "--chat-template-file", description = "Jinja chat template to use instead of the model's")
    Path chatTemplate;

    @Option(names = "--kwargs", description = "chat_template_kwargs as JSON, e.g. '{\"enable_thinking\": false}' (merged over the file's)")
    String kwargs;

    @Option(names = "--no-generation-prompt", description = "render with add_generation_prompt = false")
    boolean noGenerationPrompt;

    static final long MAX_FILE_BYTES = 64L << 20;

    @Override
    public Integer call() throws IOException {
        if (model == null && chatTemplate == null) throw new IllegalArgumentException("give -m model.gguf, --chat-template-file, or both");
        ObjectMapper json = new ObjectMapper();
        if (Files.isDirectory(messages) || Files.size(messages) > MAX_FILE_BYTES) throw new IllegalArgumentException(messages + ": not a JSON file of at most 64 MiB");
        JsonNode input;
        try {
            input = json.readTree(messages.toFile());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException(messages + ": not valid JSON: " + e.getOriginalMessage());
        }
        ObjectNode body = input != null && input.isArray() ? json.createObjectNode().set("messages", input) : input instanceof ObjectNode o ? o : null;
        if (body == null) throw new IllegalArgumentException(messages + ": expected a JSON object or array");
        if (kwargs != null) {
            JsonNode k;
            try {
                k = json.readTree(kwargs);
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new IllegalArgumentException("--kwargs: not valid JSON: " + e.getOriginalMessage());
            }
            if (!(k instanceof ObjectNode ko)) throw new IllegalArgumentException("--kwargs must be a JSON object");
            JsonNode have = body.get("chat_template_kwargs");
            ObjectNode merged = have instanceof ObjectNode h ? h.deepCopy() : json.createObjectNode();
            merged.setAll(ko);
            body.set("chat_template_kwargs", merged);
        }
        if (noGenerationPrompt) body.put("add_generation_prompt", false);
        ChatInput chat;
        try {
            chat = ChatInput.parse(body);
        } catch (ApiException e) {
            throw new IllegalArgumentException(messages + ": " + (e.param() != null ? e.param() + ": " : "") + e.getMessage());
        }
        String source = chatTemplate == null ? null : Files.readString(chatTemplate);
        String bos = "", eos = "";
        if (model != null) {
            try (GGUFFile f = GGUFFile.open(Options.modelFile(model))) {
                Tokenizer tok = Tokenizer.fromGGUF(f);
                bos = tok.bos() >= 0 ? tok.tokenText(tok.bos()) : "";
                eos = tok.eos() >= 0 ? tok.tokenText(tok.eos()) : "";
                if (source == null) source = f.getString("tokenizer.chat_template", null);
            }
            if (source == null) System.err.println("sluice: " + model + " has no chat template; using ChatML (as the server does)");
        }
        try {
            ChatTemplate t = source == null ? ChatTemplate.chatml() : ChatTemplate.compile(source);
            // as the server gives it: in the shape the template's tool format reads its history back
            System.out.print(t.render(ToolFormats.forTemplate(t.source()).history(chat.messages()), chat.options(bos, eos)));
            System.out.flush();
        } catch (TemplateException e) {
            throw new IllegalArgumentException("chat template: " + e.getMessage());
        }
        return 0;
    }
}
