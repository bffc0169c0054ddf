package io.sluice.cli;

import io.sluice.cli.hub.GgufPicker;
import io.sluice.cli.hub.HubCache;
import io.sluice.cli.hub.HubRef;
import io.sluice.cli.hub.HubSettings;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Files;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;

@Command(name = "rm", description = "Remove models from the Hugging Face hub cache: REPO:QUANT removes that quantization's files, REPO the whole repository.")
final class RmCommand implements Callable<Integer> {
    @Parameters(paramLabel = "REPO[:QUANT]", arity = "1..*", description = "what to remove (as 'sluice ls' names it)")
    List<String> refs;

    @Override
    public Integer call() throws IOException {
        HubCache cache = HubSettings.fromEnvironment(null).cache();
        for (String s : refs) {
            HubRef ref = HubRef.parse(s);
            if (!Files.isDirectory(cache.repoDir(ref.repo()))) throw new IllegalArgumentException(ref.repo() + " is not in the cache at " + cache.root());
            Set<String> paths = null;
            if (ref.quant() != null) {
                paths = new TreeSet<>();
                for (HubCache.Entry e : cache.files()) {
                    if (e.repo().equals(ref.repo()) && GgufPicker.isModel(e.path()) && GgufPicker.matches(e.path(), ref.quant())) paths.add(e.path());
                }
                if (paths.isEmpty()) throw new IllegalArgumentException(ref + " is not in the cache at " + cache.root() + " (see 'sluice ls')");
            }
            long freed = cache.remove(ref.repo(), paths);
            System.err.println("sluice: removed " + ref + (paths == null ? "" : " (" + paths.size() + " file" + (paths.size() == 1 ? "" : "s") + ")")
                    + ", " + Progress.bytes(freed) + " freed");
        }
        return 0;
    }
}
