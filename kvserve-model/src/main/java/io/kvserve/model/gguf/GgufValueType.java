package io.kvserve.model.gguf;

/** Metadata value types of GGUF, by their on-disk id (the ordinal). */
public enum GgufValueType {
    UINT8(1), INT8(1), UINT16(2), INT16(2), UINT32(4), INT32(4), FLOAT32(4), BOOL(1),
    STRING(8), ARRAY(12), UINT64(8), INT64(8), FLOAT64(8);

    /** The fewest bytes one value of this type can take in the file (used to bound counts). */
    final int minBytes;

    GgufValueType(int minBytes) {
        this.minBytes = minBytes;
    }

    /** The id stored in the file. */
    public int id() {
        return ordinal();
    }

    /** The type with this id, or {@code null} if the id is unknown. */
    public static GgufValueType byId(int id) {
        GgufValueType[] all = values();
        return id >= 0 && id < all.length ? all[id] : null;
    }
}
