package io.kvserve.router.data;

/** Bad routing input (data file, model name, configuration): the message says what, where, and the remedy. */
public final class RoutingDataException extends RuntimeException {
    public RoutingDataException(String message) {
        super(message);
    }

    public RoutingDataException(String message, Throwable cause) {
        super(message, cause);
    }
}
