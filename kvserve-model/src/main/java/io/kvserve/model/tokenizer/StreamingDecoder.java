package io.kvserve.model.tokenizer;

/** Placeholder until the tokenizer branch lands. */
public interface StreamingDecoder {
    String feed(int id);
    String flush();
}
