package io.sluice;

import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Locates the shared conformance fixtures ({@code ../shared/fixtures} beside the checkout, or the
 * {@code sluice.fixtures} system property). When they are absent the calling test is skipped with a
 * loud message, never passed silently.
 */
public final class Fixtures {
    private Fixtures() {
    }

    private static Path find() {
        String prop = System.getProperty("sluice.fixtures", System.getenv("SLUICE_FIXTURES"));
        if (prop != null && Files.isDirectory(Path.of(prop))) return Path.of(prop).toAbsolutePath();
        Path dir = Path.of("").toAbsolutePath();
        for (int i = 0; i < 4 && dir != null; i++, dir = dir.getParent()) {
            Path c = dir.resolve("../shared/fixtures").normalize();
            if (Files.isDirectory(c)) return c;
        }
        return null;
    }

    /** The fixtures folder; skips the current test loudly when it is missing. */
    public static Path dir() {
        Path p = find();
        if (p == null) {
            String msg = "SKIPPED: conformance fixtures not found (expected ../shared/fixtures beside the checkout, "
                    + "or -Dsluice.fixtures=DIR); conformance tests did NOT run";
            System.err.println("\n*** " + msg + " ***\n");
            Assumptions.abort(msg);
        }
        return p;
    }

    public static Path model(String name) {
        return dir().resolve("models").resolve(name);
    }

    public static Path vocab(String name) {
        return dir().resolve("vocab").resolve(name);
    }
}
