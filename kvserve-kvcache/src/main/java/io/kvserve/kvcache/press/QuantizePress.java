package io.kvserve.kvcache.press;

import io.kvserve.kvcache.KvStorage;

/**
 * Re-encodes the whole cache into another element type after prefill: the quantisation half of
 * "evict, then quantise", so that prefill attention ran at full precision (as KIVI's prefill does)
 * and only the stored cache is lossy. Tokens decoded later are appended in the new type.
 *
 * @param storage the element type to convert to, e.g. {@code q8_0} or {@code kivi2:residual=32}
 */
public record QuantizePress(KvStorage storage) implements KvPress {
    public QuantizePress {
        PressParams.require(storage != null, "quantize needs type=..., e.g. quantize:type=q8_0");
    }

    static QuantizePress parse(PressParams p) {
        String t = p.string("type", null);
        PressParams.require(t != null, "quantize needs type=f16|q8_0|q4_0|kivi2|kivi4");
        int residual = p.integer("residual", KvStorage.DEFAULT_RESIDUAL);
        KvStorage s = KvStorage.parse(t);
        return new QuantizePress(new KvStorage(s.type(), residual));
    }

    @Override
    public String spec() {
        return "quantize:type=" + storage.type().cliName() + (storage.type().isKivi() ? ",residual=" + storage.residual() : "");
    }

    @Override
    public void afterPrefill(PressContext ctx) {
        ctx.convert(storage);
    }
}
