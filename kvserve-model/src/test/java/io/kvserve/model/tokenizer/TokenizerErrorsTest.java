package io.kvserve.model.tokenizer;

import io.kvserve.model.ModelFileException;
import io.kvserve.model.gguf.GgufFile;
import io.kvserve.model.gguf.GgufWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Unusable vocabularies fail with a message that says what is wrong and where. */
class TokenizerErrorsTest {
    @TempDir
    Path dir;

    private Tokenizer load(GgufWriter g) throws IOException {
        Path p = dir.resolve("t.gguf");
        g.write(p);
        try (GgufFile f = GgufFile.open(p)) {
            return Tokenizer.fromGguf(f);
        }
    }

    private static GgufWriter vocab(String model) {
        return new GgufWriter().putString("tokenizer.ggml.model", model).putStringArray("tokenizer.ggml.tokens", "a", "b", "ab");
    }

    @Test
    void unsupportedModelTypeIsNamed() {
        assertThatThrownBy(() -> load(vocab("bert")))
                .isInstanceOf(ModelFileException.class)
                .hasMessageContaining("tokenizer.ggml.model 'bert' is not supported")
                .hasMessageContaining("t.gguf");
    }

    @Test
    void missingModelType() {
        assertThatThrownBy(() -> load(new GgufWriter().putString("general.architecture", "llama")))
                .isInstanceOf(ModelFileException.class)
                .hasMessageContaining("'tokenizer.ggml.model' is missing");
    }

    @Test
    void unknownPreTokenizerIsNamed() {
        assertThatThrownBy(() -> load(vocab("gpt2").putStringArray("tokenizer.ggml.merges", "a b").putString("tokenizer.ggml.pre", "klingon")))
                .isInstanceOf(ModelFileException.class)
                .hasMessageContaining("tokenizer.ggml.pre 'klingon' is not supported");
    }

    @Test
    void bpeWithoutMerges() {
        assertThatThrownBy(() -> load(vocab("gpt2")))
                .isInstanceOf(ModelFileException.class)
                .hasMessageContaining("'tokenizer.ggml.merges' is missing");
    }

    @Test
    void scoreCountMustMatchTokens() {
        assertThatThrownBy(() -> load(vocab("llama").putFloat32Array("tokenizer.ggml.scores", 0f)))
                .isInstanceOf(ModelFileException.class)
                .hasMessageContaining("'tokenizer.ggml.scores' has 1 entries but there are 3 tokens");
    }

    @Test
    void tinyVocabulariesWork() throws IOException {
        Tokenizer bpe = load(vocab("gpt2").putStringArray("tokenizer.ggml.merges", "a b").putString("tokenizer.ggml.pre", "gpt-2"));
        assertThat(bpe.encode("ab", false, false)).containsExactly(2);
        assertThat(bpe.encode("ba", false, false)).containsExactly(1, 0);
        assertThat(bpe.bosId()).isEqualTo(-1);
        assertThat(bpe.eosId()).isEqualTo(-1);
        assertThat(bpe.encode("ab", true, false)).as("no BOS to add").containsExactly(2);
        // an SPM vocabulary without scores, types or byte tokens: unknown bytes fall back to <unk> = 0
        Tokenizer spm = load(new GgufWriter().putString("tokenizer.ggml.model", "llama")
                .putStringArray("tokenizer.ggml.tokens", "<unk>", "<s>", "</s>", "▁", "a", "▁a")
                .putInt32Array("tokenizer.ggml.token_type", 2, 3, 3, 1, 1, 1));
        assertThat(spm.encode("a", false, false)).containsExactly(5);
        assertThat(spm.encode("z", false, false)).containsExactly(3, 0);
    }

    @Test
    void idsOutsideTheVocabulary() {
        Tokenizer tok = TokenizerStories260KTest.llama2c();
        assertThatThrownBy(() -> tok.decode(new int[] {5, 512})).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("token id 512 is outside the vocabulary (0..511)");
        assertThatThrownBy(() -> tok.tokenPiece(-1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> tok.newStreamingDecoder().feed(9999)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void truncatedLlama2cFile() throws IOException {
        byte[] full = Files.readAllBytes(SharedModels.model("tok512.bin"));
        Path cut = dir.resolve("cut.bin");
        Files.write(cut, Arrays.copyOf(full, 3000));
        assertThatThrownBy(() -> Tokenizer.fromLlama2c(cut, 512))
                .isInstanceOf(ModelFileException.class)
                .hasMessageContaining("cut.bin")
                .hasMessageContaining("truncated");
        assertThatThrownBy(() -> Tokenizer.fromLlama2c(SharedModels.model("tok512.bin"), 600))
                .as("more tokens than the file holds")
                .isInstanceOf(ModelFileException.class)
                .hasMessageContaining("token 512 of 600");
        assertThatThrownBy(() -> Tokenizer.fromLlama2c(dir.resolve("none.bin"), 512))
                .isInstanceOf(ModelFileException.class)
                .hasMessageContaining("not found");
        assertThatThrownBy(() -> Tokenizer.fromLlama2c(cut, 10)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least 259");
    }
}
