package io.kvserve.kvcache.press;

import java.util.List;
import java.util.stream.Collectors;

/**
 * Several presses in order, e.g. eviction followed by quantisation
 * ({@code snapkv:ratio=0.5>quantize:type=q4_0}). Each sees the cache the previous one left.
 *
 * @param presses at least two presses
 */
public record ComposedPress(List<KvPress> presses) implements KvPress {
    public ComposedPress {
        PressParams.require(presses != null && presses.size() >= 2, "compose needs at least two presses, e.g. snapkv:ratio=0.5>quantize:type=q8_0");
        presses = List.copyOf(presses);
    }

    @Override
    public String spec() {
        return presses.stream().map(KvPress::spec).collect(Collectors.joining(">"));
    }

    @Override
    public void afterPrefill(PressContext ctx) {
        for (KvPress p : presses) p.afterPrefill(ctx);
    }

    @Override
    public int decodeInterval() {
        return presses.stream().mapToInt(KvPress::decodeInterval).filter(i -> i > 0).min().orElse(0);
    }

    @Override
    public void duringDecode(PressContext ctx) {
        for (KvPress p : presses) if (p.decodeInterval() > 0) p.duringDecode(ctx);
    }

    @Override
    public int observationWindow() {
        return presses.stream().mapToInt(KvPress::observationWindow).max().orElse(0);
    }

    @Override
    public io.kvserve.kvcache.StreamCodec[][] streamCodecs(int layers, int kvHeads, int headDim) {
        for (KvPress p : presses) {
            var c = p.streamCodecs(layers, kvHeads, headDim);
            if (c != null) return c;
        }
        return null;
    }

    @Override
    public boolean tracksAttention() {
        return presses.stream().anyMatch(KvPress::tracksAttention);
    }
}
