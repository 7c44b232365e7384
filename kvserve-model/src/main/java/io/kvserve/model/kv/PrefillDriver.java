package io.kvserve.model.kv;

import io.kvserve.model.Model;
import io.kvserve.model.transformer.ForwardPass;

/**
 * A prompt prefill that a cache's compression method runs itself instead of the plain micro-batched
 * {@link ForwardPass#forward} loop: FastKV propagates only selected tokens past its TSP layer, KVzip
 * scores the context by having the model re-read it. {@code Generator} and the evaluation harness use
 * it only when {@link KvCache#prefillDriver} returns one.
 */
@FunctionalInterface
public interface PrefillDriver {
    /**
     * Prefills {@code prompt[from..]} into sequence {@code seq} (whose cache already holds the first
     * {@code from} tokens) and returns the logits of the last prompt token, {@code vocab} floats, in an
     * array the caller may keep.
     */
    float[] prefill(Model model, ForwardPass pass, int seq, int[] prompt, int from);
}
