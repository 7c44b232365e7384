package io.kvserve.model.sampling;

/**
 * The log-probability of the chosen token and of the {@code topIds.length} most likely tokens, from the
 * log-softmax of the raw logits (before penalties, filters and temperature), as OpenAI's {@code logprobs}.
 *
 * @param token       the chosen token id
 * @param logprob     its log-probability
 * @param topIds      the most likely token ids, most likely first (ties: lower id first)
 * @param topLogprobs their log-probabilities
 */
public record TokenLogprobs(int token, float logprob, int[] topIds, float[] topLogprobs) {
    public TokenLogprobs {
        if (topIds.length != topLogprobs.length) {
            throw new IllegalArgumentException("topIds has " + topIds.length + " entries but topLogprobs " + topLogprobs.length);
        }
    }
}
