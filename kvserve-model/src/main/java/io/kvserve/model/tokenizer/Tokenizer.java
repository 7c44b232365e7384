package io.kvserve.model.tokenizer;

import io.kvserve.model.ModelFileException;
import io.kvserve.model.gguf.GgufFile;

import java.nio.file.Path;

/**
 * Text to token ids and back, reproducing llama.cpp (GGUF vocabularies) and llama2.c
 * ({@code tokenizer.bin}) exactly. Implementations are immutable and thread-safe; only a
 * {@link StreamingDecoder} has state, one per stream.
 */
public interface Tokenizer {

    /**
     * Encodes text. With {@code parseSpecial}, the texts of control tokens ({@code "<|eot_id|>"},
     * {@code "<s>"}) become their ids; user-defined tokens are always matched, as in llama.cpp.
     * {@code addBos} prepends the BOS id when the vocabulary has one; no EOS is ever added.
     */
    int[] encode(String text, boolean addBos, boolean parseSpecial);

    /**
     * Decodes ids to text like llama.cpp's {@code llama_detokenize(remove_special=false,
     * unparse_special=false)}: control and unknown tokens (BOS, EOS, chat markers) produce nothing,
     * bytes are joined before UTF-8 decoding, and invalid UTF-8 becomes U+FFFD. SentencePiece
     * vocabularies drop one leading space of the first token, but llama.cpp spends that on a BOS in
     * first place, so {@code [BOS, "▁Hello"]} decodes to {@code " Hello"} and {@code ["▁Hello"]} to
     * {@code "Hello"}. Byte-level vocabularies (except {@code tokenizer.ggml.pre} qwen2, smollm and
     * command-r) also remove the space before {@code , . ! ?} and some contractions ({@code clean_spaces}).
     * llama2.c tokenizers decode as run.c does: the piece right after BOS loses its leading space.
     */
    String decode(int[] ids);

    /**
     * The raw text of one token, special tokens rendered literally ({@code "<|eot_id|>"}); spaces
     * are real spaces. When the token's bytes are not valid UTF-8 on their own (a byte token
     * {@code <0xE2>}, a partial byte-level piece), this is the token as written in the vocabulary.
     */
    String tokenPiece(int id);

    /** The exact bytes of one token's piece, special tokens rendered literally. */
    byte[] tokenBytes(int id);

    /** A decoder for generated tokens that only ever returns whole UTF-8 characters. */
    StreamingDecoder newStreamingDecoder();

    int vocabSize();

    /** The BOS id, or -1 when the vocabulary has none. */
    int bosId();

    /** The EOS id, or -1 when the vocabulary has none. */
    int eosId();

    /** Whether the model expects BOS in front of a prompt ({@code tokenizer.ggml.add_bos_token}). */
    boolean addBosByDefault();

    /** EOS, EOT ({@code <|eot_id|>}, {@code <|im_end|>}, {@code <|endoftext|>}, ...), EOM, as llama.cpp's {@code llama_vocab_is_eog}. */
    boolean isEndOfGeneration(int id);

    /**
     * The tokenizer of a GGUF file, chosen by {@code tokenizer.ggml.model}: {@code llama}
     * (SentencePiece BPE) or {@code gpt2} (byte-level BPE, pre-tokenized per {@code tokenizer.ggml.pre}).
     * Everything is copied out of the file, so it may be closed afterwards.
     *
     * @throws io.kvserve.model.ModelFileException for other tokenizer models, unknown pre-tokenizers
     *         and inconsistent vocabularies, with a message naming the file and the problem
     */
    static Tokenizer fromGguf(GgufFile f) {
        String model = f.getString("tokenizer.ggml.model", null);
        if (model == null) {
            throw new ModelFileException(f.path() + ": metadata 'tokenizer.ggml.model' is missing: the file has no tokenizer; convert the model again with its tokenizer files");
        }
        return switch (model) {
            case "llama" -> SentencePieceBpe.fromGguf(f);
            case "gpt2" -> ByteLevelBpe.fromGguf(f);
            default -> throw new ModelFileException(f.path() + ": tokenizer.ggml.model '" + model
                    + "' is not supported; kvserve reads 'llama' (SentencePiece BPE) and 'gpt2' (byte-level BPE) vocabularies");
        };
    }

    /**
     * A llama2.c tokenizer file ({@code tok512.bin}, {@code tokenizer.bin}) with {@code vocabSize}
     * entries (the checkpoint's vocab_size; the file does not store it). Encoding is run.c's
     * {@code encode()}; {@code parseSpecial} has no effect, as run.c has no special tokens in text.
     * BOS (1) and EOS (2) both end generation: run.c stops when it samples BOS.
     *
     * @throws io.kvserve.model.ModelFileException when the file is missing, truncated or too short for {@code vocabSize}
     */
    static Tokenizer fromLlama2c(Path tokenizerBin, int vocabSize) {
        return Llama2cTokenizer.read(tokenizerBin, vocabSize);
    }
}
