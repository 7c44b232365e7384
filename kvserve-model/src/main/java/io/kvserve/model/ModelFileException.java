package io.kvserve.model;

/**
 * A model file that cannot be used: corrupt, truncated, foreign, or using a feature kvserve does not
 * support. The message says what is wrong, where, and what to do; it is meant for the user.
 */
public class ModelFileException extends RuntimeException {
    public ModelFileException(String message) {
        super(message);
    }

    public ModelFileException(String message, Throwable cause) {
        super(message, cause);
    }
}
