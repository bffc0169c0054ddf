package io.sluice.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The CLI in a JVM of its own, as a user runs it: its own environment, stdin, exit code and signals. */
final class SluiceProcess {
    private SluiceProcess() {
    }

    /** Hub variables of the machine running the tests are removed, so only what a test sets counts. */
    static final List<String> HUB_VARIABLES = List.of("HF_ENDPOINT", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "HF_TOKEN",
            "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "HF_TOKEN_PATH");

    static ProcessBuilder builder(Map<String, String> env, String... args) {
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx512m",
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        for (String k : HUB_VARIABLES) pb.environment().remove(k);
        pb.environment().putAll(env);
        return pb;
    }

    /** The JVM's own incubator warning, which the launcher filters out too. */
    static String stderr(byte[] raw) {
        return new String(raw, StandardCharsets.UTF_8).replaceAll("(?m)^WARNING: Using incubator modules.*\\n", "");
    }

    /** False when this JVM ignores SIGINT (started in the background by a shell without job control): children inherit that. */
    static boolean sigintDelivered() throws IOException {
        Path status = Path.of("/proc/self/status");
        if (!Files.exists(status)) return false;
        for (String line : Files.readAllLines(status)) {
            if (line.startsWith("SigIgn:")) return (Long.parseLong(line.substring(7).strip(), 16) & 2) == 0;
        }
        return false;
    }

    static void sigint(Process p) throws IOException, InterruptedException {
        new ProcessBuilder("kill", "-INT", Long.toString(p.pid())).inheritIO().start().waitFor();
    }
}
