package io.kvserve.model.chat;

/** Thrown by a template's {@code raise_exception(msg)}; {@link ChatTemplate} turns it into a {@link ChatTemplateException}. */
final class TemplateRaisedException extends RuntimeException {
    TemplateRaisedException(String message) {
        super(message, null, false, false);
    }
}
