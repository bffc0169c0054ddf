package io.sluice.server;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** HTTP/1.1 over a plain socket, for requests no HTTP client would send. Every read has a timeout. */
final class RawHttp {
    private RawHttp() {
    }

    record Response(int status, String headers, String body) {
        JsonNode json() {
            try {
                return Http.JSON.readTree(body);
            } catch (IOException e) {
                throw new AssertionError("not JSON (status " + status + "): " + headers + "\n" + body, e);
            }
        }

        String header(String name) {
            for (String line : headers.split("\r\n")) {
                int c = line.indexOf(':');
                if (c > 0 && line.substring(0, c).trim().equalsIgnoreCase(name)) return line.substring(c + 1).trim();
            }
            return null;
        }

        /** Asserts an OpenAI error object with this status; returns its "error" member. */
        JsonNode assertError(int expected) {
            assertEquals(expected, status, "status; response:\n" + headers + "\n" + body);
            assertTrue(header("Content-Type") != null && header("Content-Type").startsWith("application/json"), "JSON content type:\n" + headers);
            JsonNode e = json().get("error");
            assertNotNull(e, body);
            assertTrue(e.get("message").isTextual() && !e.get("message").asText().isBlank(), body);
            assertTrue(e.get("type").isTextual(), body);
            assertTrue(e.has("param") && e.has("code"), body);
            return e;
        }
    }

    static Socket connect(int port, String localAddress) throws IOException {
        Socket s = new Socket();
        if (localAddress != null) s.bind(new InetSocketAddress(InetAddress.getByName(localAddress), 0));
        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5000);
        s.setSoTimeout(15_000);
        return s;
    }

    /** Sends raw bytes on a new connection and reads one response. */
    static Response exchange(int port, byte[] request) throws IOException {
        try (Socket s = connect(port, null)) {
            s.getOutputStream().write(request);
            s.getOutputStream().flush();
            return read(s.getInputStream());
        }
    }

    static Response exchange(int port, String request) throws IOException {
        return exchange(port, request.getBytes(StandardCharsets.ISO_8859_1));
    }

    /** Reads one response: status line and headers, then Content-Length bytes, or chunks, or until EOF. Null on EOF before any byte. */
    static Response read(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0;
        while (matched < 4) {
            int b = in.read();
            if (b < 0) {
                if (head.size() == 0) return null;
                throw new IOException("EOF inside the response headers: " + head.toString(StandardCharsets.ISO_8859_1));
            }
            head.write(b);
            matched = (b == '\r' && (matched == 0 || matched == 2)) || (b == '\n' && (matched == 1 || matched == 3)) ? matched + 1 : b == '\r' ? 1 : 0;
        }
        String headers = head.toString(StandardCharsets.ISO_8859_1);
        String statusLine = headers.substring(0, headers.indexOf("\r\n"));
        int status = Integer.parseInt(statusLine.split(" ")[1]);
        Response partial = new Response(status, headers, "");
        String len = partial.header("Content-Length");
        String te = partial.header("Transfer-Encoding");
        byte[] body;
        if (len != null) body = in.readNBytes(Integer.parseInt(len));
        else if (te != null && te.toLowerCase(Locale.ROOT).contains("chunked")) body = chunked(in);
        else body = in.readAllBytes();
        return new Response(status, headers, new String(body, StandardCharsets.UTF_8));
    }

    private static byte[] chunked(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        while (true) {
            String size = line(in);
            int n = Integer.parseInt(size.split(";")[0].trim(), 16);
            if (n == 0) {
                line(in);
                return out.toByteArray();
            }
            out.write(in.readNBytes(n));
            line(in);
        }
    }

    private static String line(InputStream in) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (int b; (b = in.read()) >= 0 && b != '\n'; ) if (b != '\r') sb.append((char) b);
        return sb.toString();
    }
}
