package io.kvserve.model.tokenizer;

/**
 * Turns generated token ids into text as they arrive. A UTF-8 character split across tokens
 * (SentencePiece byte tokens {@code <0xE2><0x9C><0x85>}, byte-level BPE pieces) is held back until
 * it is complete, so every returned string is whole characters. Bytes that can never complete a
 * character come out as U+FFFD. Control tokens (BOS, EOS, chat markers) produce nothing, as
 * llama.cpp's {@code token_to_piece(special = false)}. Not thread-safe: one decoder per stream.
 */
public interface StreamingDecoder {
    /** Adds one token and returns the text that is now complete (possibly empty). */
    String feed(int id);

    /** Returns whatever is held back (an incomplete character becomes U+FFFD) and starts over. */
    String flush();
}
