package io.sluice.cli;

import io.sluice.gguf.GGUFDump;
import io.sluice.gguf.GGUFFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "info", description = "Print a GGUF file's metadata and tensor table.")
final class InfoCommand implements Callable<Integer> {
    @Parameters(paramLabel = "FILE", description = "GGUF file")
    Path file;

    @Override
    public Integer call() {
        try (GGUFFile f = GGUFFile.open(Options.modelFile(file))) {
            System.out.print(GGUFDump.dump(f));
        }
        return 0;
    }
}
