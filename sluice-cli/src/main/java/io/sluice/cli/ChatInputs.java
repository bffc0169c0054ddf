package io.sluice.cli;

import org.jline.reader.EndOfFileException;
import org.jline.reader.LineReader;
import org.jline.reader.LineReaderBuilder;
import org.jline.reader.UserInterruptException;
import org.jline.reader.impl.DefaultParser;
import org.jline.terminal.Terminal;
import org.jline.terminal.TerminalBuilder;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;

/** The chat's input: a line editor (history, editing keys) on a terminal; plain lines from a pipe. */
final class ChatInputs {
    private ChatInputs() {
    }

    /** Lines from stdin as they come (a pipe or a file): no prompts, no editing. */
    static final class Piped implements ChatLoop.Input {
        private final BufferedReader r = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));

        @Override
        public String readLine(String prompt) throws IOException {
            return r.readLine();
        }
    }

    /** JLine on the terminal; Ctrl-C while an answer is written goes to {@code onInterrupt}. */
    static final class Editor implements ChatLoop.Input, AutoCloseable {
        private final Terminal terminal;
        private final LineReader reader;

        Editor(Runnable onInterrupt) throws IOException {
            terminal = TerminalBuilder.builder().system(true).build();
            terminal.handle(Terminal.Signal.INT, s -> onInterrupt.run());
            // Chat text is not a shell line: quotes, backslashes and '!' mean nothing to the editor.
            DefaultParser parser = new DefaultParser();
            parser.setQuoteChars(new char[0]);
            parser.setEscapeChars(new char[0]);
            reader = LineReaderBuilder.builder().terminal(terminal).parser(parser)
                    .option(LineReader.Option.DISABLE_EVENT_EXPANSION, true)
                    .build();
        }

        @Override
        public String readLine(String prompt) {
            try {
                return reader.readLine(prompt);
            } catch (UserInterruptException e) {
                return ""; // Ctrl-C at the prompt: drop the line, stay in the chat
            } catch (EndOfFileException e) {
                return null;
            }
        }

        @Override
        public void close() throws IOException {
            terminal.close();
        }
    }
}
