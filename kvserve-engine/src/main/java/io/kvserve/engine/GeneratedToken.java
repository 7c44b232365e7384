package io.kvserve.engine;

import io.kvserve.model.sampling.TokenLogprobs;

/**
 * One generated token. {@code text} is what may be shown now: whole UTF-8 characters, with text that
 * could start a stop string held back (so it may be empty, and a later token may carry it).
 *
 * @param logprobs null unless the request asked for them
 */
public record GeneratedToken(int token, String text, TokenLogprobs logprobs) {}
