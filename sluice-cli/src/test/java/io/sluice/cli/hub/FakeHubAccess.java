package io.sluice.cli.hub;

import java.io.IOException;

/** FakeHub for tests outside this package. */
public final class FakeHubAccess implements AutoCloseable {
    private final FakeHub hub = new FakeHub();

    public FakeHubAccess() throws IOException {
    }

    public String endpoint() {
        return hub.endpoint();
    }

    public void privateRepo(String id, String token, String file, byte[] content) {
        hub.repo(id, "c0ffee0000c0ffee0000c0ffee0000c0ffee0000").file(file, content).token = token;
    }

    @Override
    public void close() {
        hub.close();
    }
}
