package io.kvserve.kvcache;

/**
 * An element type with its parameters, as written on the command line: {@code f16}, {@code q8_0},
 * {@code kivi2}, {@code kivi4:residual=32}, {@code kivi2:residual=0,group=layer,vresidual=0}.
 *
 * @param type        the element type
 * @param residual    KIVI only: the most recent tokens kept in full precision (F16) before a group of
 *                    {@link #KIVI_GROUP} is quantised; default 128 as in the KIVI paper
 * @param layerGroups KIVI only ({@code group=layer}; default {@code group=head}): a token's value
 *                    groups span the KV heads of its layer (32 channels, or the whole layer row when
 *                    that is not a multiple of 32) instead of stopping at each head. For small heads
 *                    (stories260K: 8 channels) the per-head group's F16 scale and minimum outweigh its
 *                    codes. All heads of a layer then hold the same positions, so no press may evict
 *                    per head: {@link KvCaches#paged} builds a {@link LayerGroupedKvCache} for it.
 * @param valuesOnArrival KIVI only ({@code vresidual=0}; default off): each value is quantised per token
 *                    when it is appended, and only keys wait in F16 for their group of {@link #KIVI_GROUP}
 *                    tokens. KIVI keeps its last R values in F16 for accuracy, not because the per-token
 *                    value quantiser needs company; this is its value path with a value window of 0.
 */
public record KvStorage(KvElementType type, int residual, boolean layerGroups, boolean valuesOnArrival) {
    /** Tokens per KIVI quantisation group (keys per channel over a group, values per token). */
    public static final int KIVI_GROUP = 32;
    public static final int DEFAULT_RESIDUAL = 128;

    public KvStorage {
        if (type == null) throw new IllegalArgumentException("KV element type is missing");
        if (residual < 0) throw new IllegalArgumentException("KIVI residual must be >= 0 tokens, got " + residual);
        if (layerGroups && !type.isKivi()) throw new IllegalArgumentException("group=layer is a KIVI layout; " + type.cliName() + " has no value groups");
        if (valuesOnArrival && !type.isKivi()) throw new IllegalArgumentException("vresidual=0 is a KIVI option; " + type.cliName() + " has no residual");
    }

    public KvStorage(KvElementType type, int residual, boolean layerGroups) {
        this(type, residual, layerGroups, false);
    }

    /** Per-head groups (the layout every press works with), values in F16 with the keys' residual. */
    public KvStorage(KvElementType type, int residual) {
        this(type, residual, false, false);
    }

    public static KvStorage of(KvElementType type) {
        return new KvStorage(type, DEFAULT_RESIDUAL);
    }

    /** The same type with per-head groups. */
    public KvStorage withHeadGroups() {
        return new KvStorage(type, residual, false, valuesOnArrival);
    }

    /** Parses {@code type[:residual=N][,group=head|layer][,vresidual=0]}. */
    public static KvStorage parse(String spec) {
        String s = spec.trim();
        int colon = s.indexOf(':');
        KvElementType t = KvElementType.parse(colon < 0 ? s : s.substring(0, colon));
        int residual = DEFAULT_RESIDUAL;
        boolean layerGroups = false, valuesOnArrival = false;
        if (colon >= 0) {
            for (String kv : s.substring(colon + 1).split(",")) {
                String[] p = kv.split("=", 2);
                String key = p[0].trim();
                if (p.length != 2 || !t.isKivi() || !key.equals("residual") && !key.equals("group") && !key.equals("vresidual")) {
                    throw new IllegalArgumentException("bad KV element type parameter '" + kv + "' in '" + spec
                            + "': only the KIVI types take parameters, residual=N (tokens kept in full precision, default 128),"
                            + " group=head|layer (value groups within a KV head, the default, or across the KV heads of a layer)"
                            + " and vresidual=0 (values quantised on arrival)");
                }
                String value = p[1].trim();
                if (key.equals("vresidual")) {
                    if (!value.equals("0")) {
                        throw new IllegalArgumentException("vresidual supports only 0 (each value quantised when it is appended), got '" + value
                                + "' in '" + spec + "'; leave it out to keep values in F16 with the keys' residual");
                    }
                    valuesOnArrival = true;
                    continue;
                }
                if (key.equals("group")) {
                    if (!value.equals("head") && !value.equals("layer")) {
                        throw new IllegalArgumentException("group must be head or layer, got '" + value + "' in '" + spec + "'");
                    }
                    layerGroups = value.equals("layer");
                    continue;
                }
                try {
                    residual = Integer.parseInt(value);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("residual must be an integer number of tokens, got '" + p[1] + "' in '" + spec + "'");
                }
            }
        }
        return new KvStorage(t, residual, layerGroups, valuesOnArrival);
    }

    @Override
    public String toString() {
        if (!type.isKivi()) return type.cliName();
        String r = residual != DEFAULT_RESIDUAL ? "residual=" + residual : "";
        String g = layerGroups ? "group=layer" : "";
        String params = String.join(",", java.util.stream.Stream.of(r, g, valuesOnArrival ? "vresidual=0" : "").filter(x -> !x.isEmpty()).toList());
        return params.isEmpty() ? type.cliName() : type.cliName() + ":" + params;
    }
}
