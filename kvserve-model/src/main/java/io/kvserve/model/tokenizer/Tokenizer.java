package io.kvserve.model.tokenizer;

/** Placeholder until the tokenizer branch lands. */
public interface Tokenizer {
    int[] encode(String text, boolean addBos, boolean parseSpecial);
    String decode(int[] ids);
    String tokenPiece(int id);
    StreamingDecoder newStreamingDecoder();
    int vocabSize();
    int bosId();
    int eosId();
    boolean addBosByDefault();
    boolean isEndOfGeneration(int id);

    static Tokenizer fromGguf(io.kvserve.model.gguf.GgufFile f) {
        return null;
    }

    static Tokenizer fromLlama2c(java.nio.file.Path tokenizerBin, int vocabSize) {
        return null;
    }
}
