package io.kvserve.model.tokenizer;

/**
 * The type of a vocabulary entry, as stored in GGUF {@code tokenizer.ggml.token_type} (llama.cpp's
 * {@code llama_token_type}). It decides how a token is matched in text and how it is rendered.
 */
public enum TokenType {
    /** Type 0, or any id outside 0..6: rendered as nothing. */
    UNDEFINED,
    /** Type 1: ordinary text. */
    NORMAL,
    /** Type 2: the unknown token ({@code <unk>}); rendered only when special tokens are rendered. */
    UNKNOWN,
    /** Type 3: BOS, EOS, chat markers; matched in text and rendered only when asked for. */
    CONTROL,
    /** Type 4: added tokens that are always matched in text before pre-tokenization and always rendered. */
    USER_DEFINED,
    /** Type 5: reserved and never produced; rendered as nothing. */
    UNUSED,
    /** Type 6: SentencePiece byte-fallback token {@code <0xXX>}. */
    BYTE;

    /** The type for a GGUF token-type id; unknown ids are {@link #UNDEFINED}, as in llama.cpp. */
    public static TokenType fromGguf(int id) {
        return switch (id) {
            case 1 -> NORMAL;
            case 2 -> UNKNOWN;
            case 3 -> CONTROL;
            case 4 -> USER_DEFINED;
            case 5 -> UNUSED;
            case 6 -> BYTE;
            default -> UNDEFINED;
        };
    }

    /** Control and unknown tokens: matched and rendered only on request (llama.cpp's {@code attr_special}). */
    boolean isSpecial() {
        return this == CONTROL || this == UNKNOWN;
    }
}
