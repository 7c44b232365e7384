package io.kvserve.kvcache.press;

import io.kvserve.kvcache.PagedKvCache;
import io.kvserve.model.Batch;
import io.kvserve.model.Model;
import io.kvserve.model.transformer.ForwardPass;

/**
 * A press that needs the prefill itself, not only its result: FastKV runs the deep layers over the
 * selected tokens only, KVzip lets the model re-read the context to score it. The paged cache hands
 * it to {@code Generator} and the evaluation harness as their {@link io.kvserve.model.kv.PrefillDriver};
 * the press's ordinary {@link KvPress#afterPrefill} still runs afterwards at {@code stepDone}.
 */
public interface PrefillPress extends KvPress {
    /** What a prefill run sees: the model, a forward pass, the cache and the prompt to prefill from {@code from}. */
    record Run(Model model, ForwardPass pass, PagedKvCache cache, int seq, int[] prompt, int from) {}

    /** Prefills {@code run.prompt()[run.from()..]} and returns the last prompt token's logits (a copy the caller may keep). */
    float[] prefill(Run run);

    /** The plain micro-batched prefill of {@code run}: what a press falls back to when its own cannot apply. */
    static float[] plainPrefill(Run run) {
        ForwardPass pass = run.pass();
        float[] logits = null;
        for (int p = run.from(); p < run.prompt().length; p += pass.maxBatch()) {
            int len = Math.min(pass.maxBatch(), run.prompt().length - p);
            logits = pass.forward(Batch.ofSequence(run.seq(), run.prompt(), p, len, p, false), run.cache());
        }
        return logits == null ? null : java.util.Arrays.copyOf(logits, run.model().config().vocabSize());
    }

    /**
     * The prefill press inside {@code press}, looking through the wrappers that keep a press's
     * prefill (AdaKV, per-layer budgets, decode-time compression, composition); null if none.
     */
    static PrefillPress find(KvPress press) {
        return switch (press) {
            case null -> null;
            case PrefillPress p -> p;
            case AdaKvPress a -> find(a.inner());
            case PerLayerBudgetPress p -> find(p.inner());
            case DecodePress d -> find(d.inner());
            case KvCrushPress k -> find(k.inner());
            case LessPress l -> find(l.inner());
            case ComposedPress c -> c.presses().stream().map(PrefillPress::find).filter(java.util.Objects::nonNull).findFirst().orElse(null);
            default -> null;
        };
    }
}
