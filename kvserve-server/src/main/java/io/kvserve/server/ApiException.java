package io.kvserve.server;

import java.time.Duration;

/**
 * A failure to report to the client in OpenAI's error shape:
 * {@code {"error": {"message", "type", "param", "code"}}} with an HTTP status.
 *
 * @see #retryAfter() set for 429 and 503 (the Retry-After header)
 */
public final class ApiException extends RuntimeException {
    private final int status;
    private final String type;
    private final String param;
    private final String code;
    private final Duration retryAfter;

    public ApiException(int status, String type, String message, String param, String code, Duration retryAfter) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
        this.retryAfter = retryAfter;
    }

    /** 400: the request is malformed or invalid; {@code param} names the offending field. */
    public static ApiException invalid(String message, String param) {
        return new ApiException(400, "invalid_request_error", message, param, null, null);
    }

    public static ApiException unauthorized(String message) {
        return new ApiException(401, "invalid_request_error", message, null, "invalid_api_key", null);
    }

    public static ApiException notFound(String message, String code) {
        return new ApiException(404, "invalid_request_error", message, null, code, null);
    }

    public static ApiException tooLarge(String message) {
        return new ApiException(413, "invalid_request_error", message, null, "request_too_large", null);
    }

    public static ApiException rateLimited(String message, Duration retryAfter) {
        return new ApiException(429, "rate_limit_error", message, null, "rate_limit_exceeded", retryAfter);
    }

    public static ApiException unavailable(String message) {
        return new ApiException(503, "server_error", message, null, "service_unavailable", Duration.ofSeconds(1));
    }

    public int status() { return status; }
    public String type() { return type; }
    public String param() { return param; }
    public String code() { return code; }
    public Duration retryAfter() { return retryAfter; }
}
