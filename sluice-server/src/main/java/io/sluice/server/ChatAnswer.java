package io.sluice.server;

import io.sluice.chat.ChatFormat;

/** The server's side of {@link ChatFormat#answer}: a tool schema that cannot constrain the calls is a 400 on "tools". */
final class ChatAnswer {
    private ChatAnswer() {
    }

    /** @param prompt the rendered prompt (a reasoning block it leaves open is where the answer starts) */
    static ChatFormat.Answer of(ModelState s, ParsedRequest p, String prompt) {
        try {
            return s.format().answer(prompt, p.tools() != null ? p.chat().tools() : null, p.tools(), p.reasoning());
        } catch (ChatFormat.InvalidToolsException e) {
            throw ApiException.invalid("tools", e.getMessage(), "invalid_tool_schema");
        }
    }
}
