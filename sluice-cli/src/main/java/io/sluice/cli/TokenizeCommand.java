package io.sluice.cli;

import io.sluice.gguf.GGUFFile;
import io.sluice.model.tokenizer.Tokenizer;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "tokenize", description = "Print the token ids of each input, one line per input.")
final class TokenizeCommand implements Callable<Integer> {
    @Option(names = {"-m", "--model"}, required = true, description = "GGUF file (only its tokenizer is used)")
    Path model;

    @ArgGroup(multiplicity = "1")
    Inputs inputs;

    static final class Inputs {
        @Option(names = {"-p", "--prompt"}, description = "text to tokenize")
        String prompt;
        @Option(names = {"-f", "--file"}, description = "text file(s), each read as strict UTF-8", arity = "1..*")
        List<Path> files;
    }

    @Option(names = "--no-bos", description = "add no BOS/EOS")
    boolean noBos;

    @Option(names = "--parse-special", description = "treat special-token text such as <s> as the special token")
    boolean parseSpecial;

    /** Larger inputs would hold the text, its UTF-16 copy and the ids in memory at once. */
    static final long MAX_FILE_BYTES = 256L << 20;

    @Override
    public Integer call() throws IOException {
        List<String> texts = new ArrayList<>();
        if (inputs.prompt != null) texts.add(inputs.prompt);
        if (inputs.files != null) {
            for (Path p : inputs.files) {
                if (Files.isDirectory(p)) throw new IllegalArgumentException(p + " is a directory, not a text file");
                if (Files.size(p) > MAX_FILE_BYTES) throw new IllegalArgumentException(p + " is larger than " + (MAX_FILE_BYTES >> 20) + " MiB; split it");
                texts.add(Options.readUtf8(p));
            }
        }
        try (GGUFFile f = GGUFFile.open(Options.modelFile(model))) {
            Tokenizer tok = Tokenizer.fromGGUF(f);
            StringBuilder out = new StringBuilder();
            for (String t : texts) {
                int[] ids = tok.encode(t, !noBos, parseSpecial);
                for (int i = 0; i < ids.length; i++) out.append(i > 0 ? " " : "").append(ids[i]);
                out.append('\n');
            }
            System.out.print(out);
            System.out.flush();
        }
        return 0;
    }
}
