package io.kvserve.model.generate;

/** The prompt does not fit the context window. */
public final class PromptTooLongException extends IllegalArgumentException {
    public PromptTooLongException(int promptTokens, int context) {
        super("the prompt has " + promptTokens + " tokens but the context holds " + context
                + ": shorten the prompt or raise --ctx (up to the model's context length)");
    }
}
