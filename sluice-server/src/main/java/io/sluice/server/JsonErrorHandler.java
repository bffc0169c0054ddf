package io.sluice.server;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.handler.ErrorHandler;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Jetty's own error responses (a malformed request line or URI, headers too large, a bad HTTP version,
 * an HTTP/2 preface, errors raised before a request reaches Javalin) as OpenAI error objects instead of
 * Jetty's HTML pages, so every client sees one error shape whatever layer refused it.
 */
final class JsonErrorHandler extends ErrorHandler {

    /** The OpenAI-style error for an HTTP-layer refusal; reason is Jetty's text (may be null or just the status name). */
    static ApiException protocolError(int status, String reason) {
        String name = HttpStatus.getMessage(status);
        String detail = reason == null || reason.isBlank() || reason.equalsIgnoreCase(name) ? null : reason;
        String message = switch (status) {
            case 400 -> "Malformed HTTP request" + (detail == null ? " (bad request line, URI or header)" : ": " + detail);
            case 408 -> "The request did not arrive in time" + (detail == null ? "" : ": " + detail);
            case 413 -> "The request is too large" + (detail == null ? "" : ": " + detail);
            case 414 -> "The request URI is too long";
            case 417 -> "Unsupported Expect header" + (detail == null ? "" : ": " + detail);
            case 426 -> "Only HTTP/1.0 and HTTP/1.1 are served here (HTTP/2 is not supported)";
            case 431 -> "The request headers are too large";
            case 501 -> "Not implemented" + (detail == null ? "" : ": " + detail);
            case 505 -> "HTTP version not supported" + (detail == null ? "" : ": " + detail) + "; use HTTP/1.1";
            default -> name + (detail == null ? "" : ": " + detail);
        };
        String code = switch (status) {
            case 400 -> "bad_request";
            case 408 -> "request_timeout";
            case 413 -> "request_too_large";
            case 414 -> "uri_too_long";
            case 417 -> "expectation_failed";
            case 426 -> "upgrade_required";
            case 431 -> "headers_too_large";
            case 505 -> "http_version_not_supported";
            default -> null;
        };
        return new ApiException(status, status >= 500 ? "server_error" : "invalid_request_error", message, null, code);
    }

    /** Refusals of unparseable requests (no servlet involved): Jetty writes the returned body as is. */
    @Override
    public ByteBuffer badMessageError(int status, String reason, HttpFields.Mutable fields) {
        fields.put(HttpHeader.CONTENT_TYPE, "application/json");
        return ByteBuffer.wrap(SluiceServer.errorJson(protocolError(status, reason)).toString().getBytes(StandardCharsets.UTF_8));
    }

    /** Every method gets a body, not only GET/POST/HEAD as in Jetty's default. */
    @Override
    public boolean errorPageForMethod(String method) {
        return true;
    }

    @Override
    protected void generateAcceptableResponse(Request baseRequest, HttpServletRequest request, HttpServletResponse response, int code, String message)
            throws IOException {
        byte[] body = SluiceServer.errorJson(protocolError(code, message)).toString().getBytes(StandardCharsets.UTF_8);
        response.setContentType("application/json");
        response.setContentLength(body.length);
        response.getOutputStream().write(body);
        baseRequest.setHandled(true);
    }
}
