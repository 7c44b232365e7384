package io.kvserve.kvcache.press;

import io.kvserve.kernels.kv.KvFormats;
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
 *                {@code kivi4:residual=32,group=layer} ({@code quantize:type=kivi4,residual=32,group=layer});
 *                {@code meta=q8} stores KIVI's scales and minimums in 8 bits
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
        String meta = p.string("meta", "f16");
        PressParams.require(meta.equals("f16") || meta.equals("q8"), "quantize: meta must be f16 or q8, got '" + meta + "'");
        String vresidual = p.string("vresidual", null);
        PressParams.require(vresidual == null || vresidual.equals("0"), "quantize: vresidual supports only 0 (values quantised on arrival), got '" + vresidual + "'");
        int kbits = p.integer("kbits", 0), vbits = p.integer("vbits", 0);
        // KvStorage refuses the KIVI options on a row type and code widths other than 2, 4 or 8
        return new QuantizePress(new KvStorage(KvStorage.parse(t).type(), residual, group.equals("layer"), vresidual != null,
                meta.equals("f16") ? KvFormats.META_F16 : KvFormats.META_Q8, kbits, vbits));
    }

    @Override
    public String spec() {
        StringBuilder spec = new StringBuilder("quantize:type=").append(storage.type().cliName());
        for (String param : storage.parameters(true)) spec.append(',').append(param);
        return spec.toString();
    }

    @Override
    public void afterPrefill(PressContext ctx) {
        ctx.convert(storage);
    }
}
