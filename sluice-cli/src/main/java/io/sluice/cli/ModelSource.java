package io.sluice.cli;

import io.sluice.cli.hub.HubRef;
import io.sluice.cli.hub.Puller;
import picocli.CommandLine;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;

/** Where a command's model comes from: a local file (-m), or the Hugging Face Hub (-hf), pulled into the cache first. */
final class ModelSource {
    @Option(names = {"-m", "--model"}, paramLabel = "FILE", description = "GGUF file")
    Path model;

    @Option(names = {"-hf", "--hf-repo"}, paramLabel = "REPO[:QUANT]", description = "model from the Hugging Face Hub, pulled into the cache when missing (see 'sluice pull')")
    String hfRepo;

    @Option(names = "--hf-token", paramLabel = "TOKEN", description = "Hugging Face access token (default: HF_TOKEN, else the saved login)")
    String hfToken;

    @CommandLine.Spec(CommandLine.Spec.Target.MIXEE)
    CommandLine.Model.CommandSpec spec;

    boolean given() {
        return model != null || hfRepo != null;
    }

    /** Checks that exactly one source is given (a usage error otherwise), before anything slow happens. */
    void check() {
        if (model != null && hfRepo != null) throw new CommandLine.ParameterException(spec.commandLine(), "give either -m FILE or -hf REPO[:QUANT], not both");
        if (!given()) throw new CommandLine.ParameterException(spec.commandLine(), "Missing required option: '--model=FILE' or '--hf-repo=REPO[:QUANT]'");
        if (hfRepo != null) HubRef.parse(hfRepo);
    }

    /** The GGUF file to load: -m as given, or -hf pulled (a no-op when cached). */
    Path resolve(boolean quiet) throws IOException {
        check();
        if (model != null) return Options.modelFile(model);
        HubRef ref = HubRef.parse(hfRepo);
        Puller.Result r = PullCommand.pull(ref, hfToken, "main", quiet);
        if (r.files().size() > 1) {
            throw new IllegalArgumentException(ref + " is split into " + r.files().size() + " files (pulled to " + r.model().getParent()
                    + "); Sluice loads single-file GGUF models: merge them with llama-gguf-split --merge and use -m, or pick another quantization");
        }
        return r.model();
    }

    /** The model id a server announces when no --alias is given: the Hub name, or the file name. */
    String defaultAlias(Path resolved) {
        return hfRepo != null ? HubRef.parse(hfRepo).toString() : resolved.getFileName().toString();
    }
}
