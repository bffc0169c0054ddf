package io.sluice.cli;

import io.sluice.engine.Speculation;
import io.sluice.model.Model;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;

/** Speculative decoding's options, shared by run, serve and bench --batched (llama.cpp's names where it has them). */
final class SpeculationOptions {
    @Option(names = "--speculate", paramLabel = "MODE",
            description = "speculative decoding: off, ngram (prompt lookup), draft (-md) or auto (prompt lookup and, with -md, the draft model side by side, chosen per sequence); "
                    + "guesses per sequence adapt to acceptance and load (default: draft with -md, else off)")
    String mode;

    @Option(names = {"-md", "--model-draft"}, paramLabel = "FILE", description = "draft model of the same vocabulary (speculate with it)")
    Path draftModel;

    @Option(names = "--draft-max", defaultValue = "8", description = "most guessed tokens per sequence and step, 1.." + Speculation.MAX_DRAFT + " (default ${DEFAULT-VALUE})")
    int draftMax;

    @Option(names = "--draft-min", defaultValue = "0", description = "fewest guesses worth verifying; shorter drafts are dropped (default ${DEFAULT-VALUE})")
    int draftMin;

    Speculation.Mode mode() {
        // -md alone asks for draft speculation, as in llama.cpp.
        if (mode == null) return draftModel != null ? Speculation.Mode.DRAFT : Speculation.Mode.OFF;
        return switch (mode.toLowerCase(Locale.ROOT)) {
            case "off", "none" -> Speculation.Mode.OFF;
            case "ngram" -> Speculation.Mode.NGRAM;
            case "draft" -> Speculation.Mode.DRAFT;
            case "auto" -> Speculation.Mode.AUTO;
            default -> throw new IllegalArgumentException("--speculate must be off, ngram, draft or auto, not '" + mode + "'");
        };
    }

    /** Checks the settings before anything loads. */
    void check() {
        Speculation.Mode m = mode();
        if (m == Speculation.Mode.OFF && draftModel != null) throw new IllegalArgumentException("-md/--model-draft was given with --speculate off");
        if (m == Speculation.Mode.NGRAM && draftModel != null) throw new IllegalArgumentException("--speculate ngram takes no -md/--model-draft");
        if (m == Speculation.Mode.DRAFT && draftModel == null) throw new IllegalArgumentException("--speculate draft needs -md/--model-draft FILE");
        if (m != Speculation.Mode.OFF) {
            if (draftMax < 1 || draftMax > Speculation.MAX_DRAFT) throw new IllegalArgumentException("--draft-max must be in 1.." + Speculation.MAX_DRAFT + " (got " + draftMax + ")");
            if (draftMin < 0 || draftMin > draftMax) throw new IllegalArgumentException("--draft-min must be in 0..--draft-max (got " + draftMin + ")");
        }
        if (draftModel != null) Options.modelFile(draftModel);
    }

    /** Loads the draft model, if speculation uses one (the caller closes it); null otherwise. */
    Model loadDraft(int contextLength) {
        if (draftModel == null || mode() == Speculation.Mode.OFF) return null;
        return Loading.model(Options.modelFile(draftModel), contextLength, false);
    }

    Speculation speculation(Model draft) {
        return new Speculation(mode(), draftMax, draftMin, draft);
    }
}
