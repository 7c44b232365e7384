package io.kvserve.kvcache.press;

import io.kvserve.kvcache.KvStorage;

/**
 * Re-encodes the whole cache into another element type after prefill: the quantisation half of
 * "evict, then quantise", so that prefill attention ran at full precision (as KIVI's prefill does)
 * and only the stored cache is lossy. Tokens decoded later are appended in the new type.
 *
 * <p>{@code group=layer} (KIVI only) converts into value groups across the KV heads of a layer; the
 * cache is then a {@link io.kvserve.kvcache.LayerGroupedKvCache} from the start (its layer stream
 * holds the prefill in the configuration's element type), so this press cannot follow a per-head press.
 *
 * @param storage the element type to convert to, e.g. {@code q8_0}, {@code kivi2:residual=32}, or
 *                {@code kivi4:residual=32,group=layer} ({@code quantize:type=kivi4,residual=32,group=layer})
 */
public record QuantizePress(KvStorage storage) implements KvPress {
    public QuantizePress {
        PressParams.require(storage != null, "quantize needs type=..., e.g. quantize:type=q8_0");
    }

    static QuantizePress parse(PressParams p) {
        String t = p.string("type", null);
        PressParams.require(t != null, "quantize needs type=f16|q8_0|q4_0|kivi2|kivi4");
        int residual = p.integer("residual", KvStorage.DEFAULT_RESIDUAL);
        String group = p.string("group", "head");
        PressParams.require(group.equals("head") || group.equals("layer"), "quantize: group must be head or layer, got '" + group + "'");
        KvStorage s = KvStorage.parse(t);
        PressParams.require(s.type().isKivi() || group.equals("head"), "quantize: group=layer is a KIVI layout, " + s.type().cliName() + " has no value groups");
        return new QuantizePress(new KvStorage(s.type(), residual, group.equals("layer")));
    }

    @Override
    public String spec() {
        return "quantize:type=" + storage.type().cliName() + (storage.type().isKivi() ? ",residual=" + storage.residual() : "")
                + (storage.layerGroups() ? ",group=layer" : "");
    }

    @Override
    public void afterPrefill(PressContext ctx) {
        ctx.convert(storage);
    }
}
