package io.kvserve.kvcache;

import io.kvserve.kernels.kv.KvFormats;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** How keys and values are stored: a row format per token, or KIVI's grouped asymmetric quantisation. */
public enum KvElementType {
    F32(KvFormats.F32_ROW, 0),
    F16(KvFormats.F16_ROW, 0),
    Q8_0(KvFormats.Q8_0_ROW, 0),
    Q4_0(KvFormats.Q4_0_ROW, 0),
    KIVI2(-1, 2),
    KIVI4(-1, 4);

    /** Row format code of {@link KvFormats}, or -1 for KIVI. */
    public final int rowFormat;
    /** KIVI bits, or 0. */
    public final int kiviBits;

    KvElementType(int rowFormat, int kiviBits) {
        this.rowFormat = rowFormat;
        this.kiviBits = kiviBits;
    }

    public boolean isKivi() {
        return kiviBits > 0;
    }

    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static KvElementType parse(String s) {
        for (KvElementType t : values()) if (t.cliName().equalsIgnoreCase(s.trim())) return t;
        throw new IllegalArgumentException("unknown KV element type '" + s + "'; expected one of "
                + Arrays.stream(values()).map(KvElementType::cliName).collect(Collectors.joining(", ")));
    }
}
