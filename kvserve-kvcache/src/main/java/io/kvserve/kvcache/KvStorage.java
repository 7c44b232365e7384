package io.kvserve.kvcache;

import io.kvserve.kernels.kv.KvFormats;

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
 * @param metaBytes   KIVI only ({@code meta=f16}, the default, or {@code meta=q8}): bytes of each scale and
 *                    minimum, {@link KvFormats#META_F16} (KIVI's) or {@link KvFormats#META_Q8} (the scale as an
 *                    8-bit float, the minimum as an 8-bit zero point in fractions of it, the pair of least
 *                    squared error chosen by a search). For small groups the F16
 *                    metadata is as large as the 2-bit codes: a layer-grouped KIVI-2 token of stories260K
 *                    stores 80 code bytes and 40 of scales and minimums; {@code q8} makes that 20.
 * @param kbits       KIVI only ({@code kbits=2|4|8}; 0 = the type's): bits of the key codes. Keys carry most of
 *                    KIVI's error on stories260K, so the mixed widths that llama.cpp users run ({@code -ctk q8_0
 *                    -ctv q4_0}) apply here too: {@code kivi4:kbits=8} stores keys in 8 bits, values in 4.
 * @param vbits       KIVI only ({@code vbits=2|4|8}; 0 = the type's): bits of the value codes.
 */
public record KvStorage(KvElementType type, int residual, boolean layerGroups, boolean valuesOnArrival, int metaBytes, int kbits, int vbits) {
    /** Tokens per KIVI quantisation group (keys per channel over a group, values per token). */
    public static final int KIVI_GROUP = 32;
    public static final int DEFAULT_RESIDUAL = 128;

    public KvStorage {
        if (type == null) throw new IllegalArgumentException("KV element type is missing");
        if (residual < 0) throw new IllegalArgumentException("KIVI residual must be >= 0 tokens, got " + residual);
        if (layerGroups && !type.isKivi()) throw new IllegalArgumentException("group=layer is a KIVI layout; " + type.cliName() + " has no value groups");
        if (valuesOnArrival && !type.isKivi()) throw new IllegalArgumentException("vresidual=0 is a KIVI option; " + type.cliName() + " has no residual");
        if (metaBytes != KvFormats.META_F16 && metaBytes != KvFormats.META_Q8) {
            throw new IllegalArgumentException("KIVI metadata is 2 bytes (f16) or 1 byte (q8), got " + metaBytes);
        }
        if (metaBytes != KvFormats.META_F16 && !type.isKivi()) throw new IllegalArgumentException("meta=q8 is a KIVI option; " + type.cliName() + " has no scale and minimum per group");
        if ((kbits != 0 || vbits != 0) && !type.isKivi()) throw new IllegalArgumentException("kbits and vbits are KIVI options; " + type.cliName() + " has no KIVI codes");
        for (int b : new int[] {kbits, vbits}) {
            if (b != 0 && b != 2 && b != 4 && b != 8) throw new IllegalArgumentException("KIVI code bits are 2, 4 or 8, got " + b);
        }
        // the type's own width is stored as 0, so that equal layouts are equal records
        if (kbits == type.kiviBits) kbits = 0;
        if (vbits == type.kiviBits) vbits = 0;
    }

    public KvStorage(KvElementType type, int residual, boolean layerGroups, boolean valuesOnArrival, int metaBytes) {
        this(type, residual, layerGroups, valuesOnArrival, metaBytes, 0, 0);
    }

    /** KIVI: bits of the key codes ({@code kbits=}, else the type's). */
    public int keyBits() {
        return kbits != 0 ? kbits : type.kiviBits;
    }

    /** KIVI: bits of the value codes ({@code vbits=}, else the type's). */
    public int valueBits() {
        return vbits != 0 ? vbits : type.kiviBits;
    }

    public KvStorage(KvElementType type, int residual, boolean layerGroups, boolean valuesOnArrival) {
        this(type, residual, layerGroups, valuesOnArrival, KvFormats.META_F16);
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
        return new KvStorage(type, residual, false, valuesOnArrival, metaBytes, kbits, vbits);
    }

    /** Parses {@code type[:residual=N][,group=head|layer][,vresidual=0][,meta=f16|q8][,kbits=B][,vbits=B]}. */
    public static KvStorage parse(String spec) {
        String s = spec.trim();
        int colon = s.indexOf(':');
        KvElementType t = KvElementType.parse(colon < 0 ? s : s.substring(0, colon));
        int residual = DEFAULT_RESIDUAL;
        boolean layerGroups = false, valuesOnArrival = false;
        int meta = KvFormats.META_F16, kbits = 0, vbits = 0;
        if (colon >= 0) {
            for (String kv : s.substring(colon + 1).split(",")) {
                String[] p = kv.split("=", 2);
                String key = p[0].trim();
                if (p.length != 2 || !t.isKivi() || !key.equals("residual") && !key.equals("group") && !key.equals("vresidual") && !key.equals("meta") && !key.equals("kbits") && !key.equals("vbits")) {
                    throw new IllegalArgumentException("bad KV element type parameter '" + kv + "' in '" + spec
                            + "': only the KIVI types take parameters, residual=N (tokens kept in full precision, default 128),"
                            + " group=head|layer (value groups within a KV head, the default, or across the KV heads of a layer)"
                            + ", vresidual=0 (values quantised on arrival) and meta=f16|q8 (bytes of each scale and minimum: 2, KIVI's, or 1), kbits=2|4|8 and vbits=2|4|8 (bits of the key and of the value codes, default the type's)");
                }
                String value = p[1].trim();
                if (key.equals("kbits") || key.equals("vbits")) {
                    if (!value.equals("2") && !value.equals("4") && !value.equals("8")) {
                        throw new IllegalArgumentException(key + " must be 2, 4 or 8, got '" + value + "' in '" + spec + "'");
                    }
                    if (key.equals("kbits")) kbits = Integer.parseInt(value);
                    else vbits = Integer.parseInt(value);
                    continue;
                }
                if (key.equals("meta")) {
                    if (!value.equals("f16") && !value.equals("q8")) {
                        throw new IllegalArgumentException("meta must be f16 (KIVI's scale and minimum) or q8 (an 8-bit scale and zero point), got '" + value + "' in '" + spec + "'");
                    }
                    meta = value.equals("f16") ? KvFormats.META_F16 : KvFormats.META_Q8;
                    continue;
                }
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
        return new KvStorage(t, residual, layerGroups, valuesOnArrival, meta, kbits, vbits);
    }

    /**
     * The KIVI parameters that differ from their defaults, as {@link #parse} reads them ({@code residual}
     * always when {@code withResidual}); none for the row types.
     */
    public java.util.List<String> parameters(boolean withResidual) {
        if (!type.isKivi()) return java.util.List.of();
        String r = withResidual || residual != DEFAULT_RESIDUAL ? "residual=" + residual : "";
        return java.util.stream.Stream.of(r, layerGroups ? "group=layer" : "", valuesOnArrival ? "vresidual=0" : "",
                metaBytes == KvFormats.META_Q8 ? "meta=q8" : "",
                kbits != 0 ? "kbits=" + kbits : "", vbits != 0 ? "vbits=" + vbits : "").filter(x -> !x.isEmpty()).toList();
    }

    @Override
    public String toString() {
        java.util.List<String> params = parameters(false);
        return params.isEmpty() ? type.cliName() : type.cliName() + ":" + String.join(",", params);
    }
}
