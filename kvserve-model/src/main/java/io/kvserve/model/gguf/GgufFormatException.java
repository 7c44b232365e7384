package io.kvserve.model.gguf;

import io.kvserve.model.ModelFileException;

/** A GGUF file that does not follow the format: the message names the file, the place and the problem. */
public final class GgufFormatException extends ModelFileException {
    public GgufFormatException(String message) {
        super(message);
    }
}
