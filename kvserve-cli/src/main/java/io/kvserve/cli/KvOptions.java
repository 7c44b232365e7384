package io.kvserve.cli;

import io.kvserve.kvcache.KvStorage;
import io.kvserve.kvcache.press.KvPress;
import io.kvserve.kvcache.press.PrefixKvCalibration;
import io.kvserve.kvcache.press.PressRegistry;
import io.kvserve.model.Model;
import io.kvserve.model.kv.KvCache;
import picocli.CommandLine.Option;

/** KV cache options shared by the commands that run a model. */
public final class KvOptions {
    @Option(names = "--kv-press", paramLabel = "SPEC",
            description = "KV compression, e.g. snapkv:ratio=0.5, decode:every=16/h2o:ratio=0.5, adakv/snapkv:ratio=0.5, "
                    + "'streamingllm:ratio=0.5>quantize:type=q8_0' (ratio = fraction of tokens evicted); presses: "
                    + "streamingllm, h2o, snapkv, tova, knorm, pyramidkv, random, quantize, lagkv, dynamickv, prefixkv; "
                    + "wrappers: adakv, perlayer, decode, kvcrush")
    String press;

    @Option(names = "--kv-type", paramLabel = "TYPE",
            description = "KV element type: f32, f16, q8_0, q4_0, kivi2, kivi4 (KIVI takes :residual=N, default 128, group=layer for "
                    + "value groups across a layer's KV heads, without presses, vresidual=0, meta=q8 for 8-bit scales and zero points, "
                    + "and kbits=/vbits= 2|4|8 for the key and value code widths, e.g. kivi4:residual=0,meta=q8,kbits=8); "
                    + "given either option, the paged cache is used (default: the contiguous F32 cache)")
    String type;

    @Option(names = "--kv-budget-mib", paramLabel = "MIB", description = "KV cache byte budget of the paged cache in MiB (default: 4096)")
    long budgetMib = 4096;

    /** Whether the paged cache was asked for. */
    public boolean paged() {
        return press != null || type != null;
    }

    /** Parses the flags early, so that a bad spec fails before the model loads. */
    public void validate() {
        if (budgetMib < 1) throw new IllegalArgumentException("--kv-budget-mib must be >= 1, got " + budgetMib);
        if (press != null && io.kvserve.kvcache.press.LessCalibration.needsFit(PressRegistry.parse(press))) {
            throw new IllegalArgumentException("--kv-press " + press + ": less:map=fit needs feature maps fitted on calibration text, which"
                    + " `kvserve eval kv` does by itself; here write less:map=random/... (training-free)");
        }
        if (type != null && KvStorage.parse(type).layerGroups() && press != null) {
            throw new IllegalArgumentException("--kv-type " + type + " keeps one set of tokens per layer (value groups span its KV heads), but --kv-press "
                    + press + " chooses tokens per KV head: drop group=layer to combine KIVI with a press");
        }
    }

    public KvCache newCache(Model model, int context) {
        if (!paged()) return model.newContiguousCache(context);
        KvPress p = press != null ? PrefixKvCalibration.prepare(PressRegistry.parse(press), model, java.util.List.of()) : null;
        KvStorage s = KvStorage.parse(type != null ? type : "f32");
        return io.kvserve.kvcache.KvCaches.forModel(model.config(), context, s, budgetMib << 20, p);
    }
}
