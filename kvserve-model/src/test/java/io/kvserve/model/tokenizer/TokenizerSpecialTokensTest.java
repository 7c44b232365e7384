package io.kvserve.model.tokenizer;

import io.kvserve.model.gguf.GgufFile;
import io.kvserve.model.gguf.GgufWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** Special tokens in text, BOS, end-of-generation and rendering, per vocabulary (llama.cpp semantics). */
class TokenizerSpecialTokensTest {

    @Test
    void llama3ChatMarkersAreParsedOnlyOnRequest() {
        Tokenizer tok = SharedModels.gguf("vocab/ggml-vocab-llama3.gguf");
        String chat = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>";
        int[] parsed = tok.encode(chat, false, true);
        assertThat(parsed[0]).isEqualTo(128006);
        assertThat(parsed).contains(128007);
        assertThat(parsed[parsed.length - 1]).isEqualTo(128009);
        assertThat(tok.encode(chat, false, false)).doesNotContain(128006, 128007, 128009);
        assertThat(tok.decode(parsed)).as("control tokens render as nothing").isEqualTo("user\n\nHi");
        assertThat(tok.decode(tok.encode("Hi , it 's me .", false, false))).as("clean_spaces").isEqualTo("Hi, it's me.");
        assertThat(tok.tokenPiece(128009)).isEqualTo("<|eot_id|>");
        assertThat(tok.tokenPiece(tok.encode(" hello", false, false)[0])).isEqualTo(" hello");
    }

    @Test
    void llama3BosAndEndOfGeneration() {
        Tokenizer tok = SharedModels.gguf("vocab/ggml-vocab-llama3.gguf");
        assertThat(tok.vocabSize()).isEqualTo(128256);
        assertThat(tok.bosId()).isEqualTo(128000);
        assertThat(tok.eosId()).isEqualTo(128001);
        assertThat(tok.addBosByDefault()).as("llama-bpe adds BOS").isTrue();
        assertThat(tok.encode("Hi", true, false)[0]).isEqualTo(128000);
        assertThat(tok.encode("", true, false)).containsExactly(128000);
        assertThat(tok.isEndOfGeneration(128009)).as("<|eot_id|>").isTrue();
        assertThat(tok.isEndOfGeneration(128001)).as("<|end_of_text|>").isTrue();
        assertThat(tok.isEndOfGeneration(128000)).isFalse();
        assertThat(tok.isEndOfGeneration(128006)).isFalse();
        assertThat(tok.isEndOfGeneration(-1)).isFalse();
    }

    @Test
    void qwenUserDefinedTokensAreAlwaysMatchedAndFimTokensBecomeControl() {
        Tokenizer tok = SharedModels.gguf("vocab/ggml-vocab-qwen2.gguf");
        assertThat(tok.addBosByDefault()).isFalse();
        assertThat(tok.eosId()).isEqualTo(151645);
        assertThat(tok.encode("a<think>b</think>", false, false)).as("user-defined <think>").contains(151667, 151668);
        assertThat(tok.decode(tok.encode("a<think>b</think>", false, false))).isEqualTo("a<think>b</think>");
        // llama.cpp detects <|fim_prefix|> by text and forces it to CONTROL: no longer matched without parseSpecial
        assertThat(tok.encode("x<|fim_prefix|>y", false, false)).doesNotContain(151659);
        assertThat(tok.encode("x<|fim_prefix|>y", false, true)).contains(151659);
        assertThat(tok.encode("<|im_start|>user\nhi<|im_end|>", false, true)).startsWith(151644).endsWith(151645);
        for (int id : new int[] {151643, 151645, 151662, 151663, 151664}) {
            assertThat(tok.isEndOfGeneration(id)).as("EOG %d %s", id, tok.tokenPiece(id)).isTrue();
        }
        assertThat(tok.isEndOfGeneration(151644)).as("<|im_start|>").isFalse();
        assertThat(tok.isEndOfGeneration(151667)).as("<think>").isFalse();
        // llama.cpp (2026) takes "</s>" for an end-of-generation token by its text, even where it is plain text
        assertThat(tok.isEndOfGeneration(128247)).as("</s>").isTrue();
        assertThat(tok.encode("a</s>b", false, true)).containsExactly(64, 128247, 65);
        assertThat(tok.decode(new int[] {64, 128247, 65})).isEqualTo("ab");
    }

    @Test
    void gpt2EndOfTextIsBosEosAndEog() {
        Tokenizer tok = SharedModels.gguf("vocab/ggml-vocab-gpt-2.gguf");
        assertThat(tok.bosId()).isEqualTo(50256);
        assertThat(tok.eosId()).isEqualTo(50256);
        assertThat(tok.addBosByDefault()).isFalse();
        assertThat(tok.isEndOfGeneration(50256)).isTrue();
        assertThat(tok.encode("a<|endoftext|>b", false, true)).containsExactly(64, 50256, 65);
        // clean_spaces, as llama.cpp does for gpt-2
        assertThat(tok.decode(tok.encode("Hello , world ! It ' s he 's", false, false))).isEqualTo("Hello, world! It's he's");
    }

    @Test
    void sentencePieceSpacePrefixBosAndBytes() {
        Tokenizer tok = SharedModels.gguf("vocab/ggml-vocab-llama-spm.gguf");
        assertThat(tok.addBosByDefault()).isTrue();
        assertThat(tok.encode("Hello", false, false)).containsExactly(15043);
        assertThat(tok.encode("Hello", true, false)).containsExactly(1, 15043);
        // a space is prefixed after a special token too
        assertThat(tok.encode("<s>Hello</s>", false, true)).containsExactly(1, 15043, 2);
        assertThat(tok.encode("<s>Hello", false, false)).doesNotContain(1);
        assertThat(tok.decode(new int[] {15043})).isEqualTo("Hello");
        // llama.cpp's detokenizer spends its leading-space strip on the (invisible) BOS
        assertThat(tok.decode(new int[] {1, 15043, 2})).isEqualTo(" Hello");
        assertThat(tok.tokenPiece(1)).isEqualTo("<s>");
        assertThat(tok.tokenPiece(15043)).isEqualTo(" Hello");
        assertThat(tok.tokenPiece(13)).as("<0x0A>").isEqualTo("\n");
        assertThat(tok.tokenPiece(0xE2 + 3)).as("a lone UTF-8 lead byte").isEqualTo("<0xE2>");
        assertThat(tok.tokenBytes(0xE2 + 3)).containsExactly((byte) 0xE2);
        assertThat(tok.isEndOfGeneration(2)).isTrue();
        assertThat(tok.isEndOfGeneration(1)).isFalse();
    }

    @Test
    void phi3SpecialTokensSwallowTheWhitespaceAfterThem(@TempDir Path dir) throws IOException {
        // llama.cpp gives Phi-3's special tokens the RSTRIP attribute by model name (GGUF has no field for it)
        String[] tokens = {"<unk>", "<s>", "</s>", "<|user|>", "<|end|>", "▁", "H", "i", "▁H", "▁Hi", "<0x0A>"};
        int[] types = {2, 3, 3, 3, 3, 1, 1, 1, 1, 1, 6};
        float[] scores = {0, 0, 0, 0, 0, -1, -2, -3, -4, -5, 0};
        Tokenizer plain = gguf(dir, "plain.gguf", "Llama", tokens, types, scores);
        Tokenizer phi3 = gguf(dir, "phi3.gguf", "Phi-3 Mini", tokens, types, scores);
        String chat = "<|user|>\n Hi<|end|>\n";
        assertThat(phi3.encode(chat, false, true)).containsExactly(3, 9, 4);
        assertThat(plain.encode(chat, false, true)).containsExactly(3, 5, 10, 9, 4, 5, 10);
        assertThat(phi3.isEndOfGeneration(4)).as("<|end|>").isTrue();
    }

    private static Tokenizer gguf(Path dir, String file, String name, String[] tokens, int[] types, float[] scores) throws IOException {
        Path p = dir.resolve(file);
        new GgufWriter().putString("general.name", name).putString("tokenizer.ggml.model", "llama")
                .putStringArray("tokenizer.ggml.tokens", tokens).putInt32Array("tokenizer.ggml.token_type", types)
                .putFloat32Array("tokenizer.ggml.scores", scores).write(p);
        try (GgufFile f = GgufFile.open(p)) {
            return Tokenizer.fromGguf(f);
        }
    }

    @Test
    void llama2cPiecesAndEndOfGeneration() {
        Tokenizer tok = TokenizerStories260KTest.llama2c();
        assertThat(tok.vocabSize()).isEqualTo(512);
        assertThat(tok.bosId()).isEqualTo(1);
        assertThat(tok.eosId()).isEqualTo(2);
        assertThat(tok.addBosByDefault()).isTrue();
        assertThat(tok.tokenPiece(1)).isEqualTo("\n<s>\n");
        assertThat(tok.tokenPiece(13)).isEqualTo("\n");
        assertThat(tok.isEndOfGeneration(1)).as("run.c stops at BOS").isTrue();
        assertThat(tok.isEndOfGeneration(2)).isTrue();
        assertThat(tok.isEndOfGeneration(403)).isFalse();
        assertThat(tok.encode("", false, false)).isEmpty();
    }
}
