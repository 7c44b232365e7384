package io.kvserve.model.chat;

/**
 * A chat template that cannot be parsed or rendered, or that refused the conversation through
 * {@code raise_exception(...)}. The message names the template, the problem and, when known, the line.
 */
public final class ChatTemplateException extends RuntimeException {
    private final boolean raisedByTemplate;

    public ChatTemplateException(String message, boolean raisedByTemplate) {
        super(message);
        this.raisedByTemplate = raisedByTemplate;
    }

    public ChatTemplateException(String message, Throwable cause) {
        super(message, cause);
        this.raisedByTemplate = false;
    }

    /** True when the template itself rejected the conversation (its {@code raise_exception} call). */
    public boolean raisedByTemplate() {
        return raisedByTemplate;
    }
}
