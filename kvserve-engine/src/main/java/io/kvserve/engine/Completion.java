package io.kvserve.engine;

/**
 * The end of a request.
 *
 * @param tail             text held back until the end (an incomplete stop-string prefix), to append
 * @param promptTokens     tokens of the prompt
 * @param cachedTokens     prompt tokens whose KV came from the prefix cache instead of a forward pass
 * @param completionTokens tokens generated
 * @param error            why it failed, for {@link FinishReason#ERROR}; else null
 */
public record Completion(FinishReason reason, String tail, int promptTokens, int cachedTokens, int completionTokens, String error) {}
