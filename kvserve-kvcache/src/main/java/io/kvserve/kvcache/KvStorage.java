package io.kvserve.kvcache;

/**
 * An element type with its parameters, as written on the command line: {@code f16}, {@code q8_0},
 * {@code kivi2}, {@code kivi4:residual=32}.
 *
 * @param type     the element type
 * @param residual KIVI only: the most recent tokens kept in full precision (F16) before a group of
 *                 {@link #KIVI_GROUP} is quantised; default 128 as in the KIVI paper
 */
public record KvStorage(KvElementType type, int residual) {
    /** Tokens per KIVI quantisation group (keys per channel over a group, values per token). */
    public static final int KIVI_GROUP = 32;
    public static final int DEFAULT_RESIDUAL = 128;

    public KvStorage {
        if (type == null) throw new IllegalArgumentException("KV element type is missing");
        if (residual < 0) throw new IllegalArgumentException("KIVI residual must be >= 0 tokens, got " + residual);
    }

    public static KvStorage of(KvElementType type) {
        return new KvStorage(type, DEFAULT_RESIDUAL);
    }

    /** Parses {@code type[:residual=N]}. */
    public static KvStorage parse(String spec) {
        String s = spec.trim();
        int colon = s.indexOf(':');
        KvElementType t = KvElementType.parse(colon < 0 ? s : s.substring(0, colon));
        int residual = DEFAULT_RESIDUAL;
        if (colon >= 0) {
            for (String kv : s.substring(colon + 1).split(",")) {
                String[] p = kv.split("=", 2);
                if (p.length != 2 || !p[0].trim().equals("residual") || !t.isKivi()) {
                    throw new IllegalArgumentException("bad KV element type parameter '" + kv + "' in '" + spec
                            + "': only the KIVI types take one, residual=N (tokens kept in full precision, default 128)");
                }
                try {
                    residual = Integer.parseInt(p[1].trim());
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("residual must be an integer number of tokens, got '" + p[1] + "' in '" + spec + "'");
                }
            }
        }
        return new KvStorage(t, residual);
    }

    @Override
    public String toString() {
        return type.isKivi() && residual != DEFAULT_RESIDUAL ? type.cliName() + ":residual=" + residual : type.cliName();
    }
}
