/**
 * Tokenizers that reproduce llama.cpp and llama2.c token for token.
 *
 * <p>{@link io.kvserve.model.tokenizer.Tokenizer#fromGguf} reads a GGUF vocabulary into a
 * {@code Vocabulary} (texts, scores, types, special ids, end-of-generation set, with llama.cpp's
 * detection of EOT/EOM/FIM tokens by text) and builds either {@code SentencePieceBpe}
 * ({@code tokenizer.ggml.model = llama}, a port of {@code llm_tokenizer_spm}) or
 * {@code ByteLevelBpe} ({@code gpt2}, a port of {@code llm_tokenizer_bpe} with the
 * {@code PreTokenizer} regexes of {@code tokenizer.ggml.pre}). Special tokens are split out of
 * the raw text first, as {@code tokenizer_st_partition} does. {@code Llama2cTokenizer} reads
 * llama2.c {@code tokenizer.bin} files and encodes and decodes as run.c.
 *
 * <p>Merges use a priority queue over a linked list of symbols (O(n log n)), with the same
 * tie-breaking as the originals, and byte-level BPE caches the ids of each pre-token.
 * Decoding goes through bytes, so a character split over tokens is rebuilt; the
 * {@link io.kvserve.model.tokenizer.StreamingDecoder} holds back incomplete UTF-8 sequences.
 *
 * <p>The tests check llama.cpp's own vectors ({@code ggml-vocab-*.gguf.inp/.out}), 160 random
 * strings per vocabulary tokenized and detokenized by a real llama.cpp build (node-llama-cpp 3.21.1,
 * {@code scripts/llamacpp-tokenize.sh}), run.c's {@code encode()} output for stories260K, and the
 * regexes against a port of llama.cpp's hand-written splitters. Special tokens found by their text
 * (EOT, EOM, FIM, end of generation) follow that llama.cpp build, including its taking
 * {@code "</s>"} for end of generation in vocabularies where it is plain text (Qwen).
 */
package io.kvserve.model.tokenizer;
