package io.kvserve.model.tokenizer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The streaming decoder never splits a UTF-8 character, whatever the tokens do. */
class TokenizerStreamingTest {
    // a 4-byte emoji, a rare 4-byte CJK ideograph, common CJK and a 3-byte symbol
    static final String TEXT = "Hello 🦙 world, 𠜎 日本語 ✅ naïve";

    @ParameterizedTest
    @ValueSource(strings = {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf", "ggml-vocab-llama3.gguf", "ggml-vocab-qwen2.gguf"})
    void splitCharactersAreHeldBackUntilComplete(String vocab) {
        Tokenizer tok = SharedModels.gguf("vocab/" + vocab);
        int[] ids = tok.encode(TEXT, tok.addBosByDefault(), false);
        StreamingDecoder d = tok.newStreamingDecoder();
        List<String> chunks = new ArrayList<>();
        int heldBack = 0;
        for (int id : ids) {
            String s = d.feed(id);
            byte[] piece = tok.tokenBytes(id);
            if (s.isEmpty() && piece.length > 0 && !tok.isEndOfGeneration(id) && id != tok.bosId()) heldBack++;
            assertThat(s).as("chunk after token %d", id).doesNotContain("\uFFFD");
            chunks.add(s);
        }
        chunks.add(d.flush());
        String joined = String.join("", chunks);
        // pieces are streamed as llama.cpp's token_to_piece: SentencePiece keeps its prefix space
        String expected = vocab.contains("spm") ? " " + TEXT : TEXT;
        assertThat(joined).isEqualTo(expected);
        assertThat(heldBack).as("tokens that ended inside a character in %s", vocab).isPositive();
    }

    @Test
    void llama2cByteFallbackIsReassembled() {
        Tokenizer tok = TokenizerStories260KTest.llama2c();
        String text = "naïve café 日本";
        int[] ids = tok.encode(text, true, false);
        StreamingDecoder d = tok.newStreamingDecoder();
        StringBuilder sb = new StringBuilder();
        for (int id : ids) {
            String s = d.feed(id);
            assertThat(s).doesNotContain("\uFFFD");
            sb.append(s);
        }
        assertThat(sb.append(d.flush()).toString()).isEqualTo(text);
        assertThat(tok.decode(ids)).isEqualTo(text);
    }

    static Utf8StreamingDecoder over(byte[]... pieces) {
        return new Utf8StreamingDecoder((previous, id) -> pieces[id]);
    }

    @Test
    void bytesAreReleasedOnCharacterBoundaries() {
        byte[] check = "✅".getBytes(StandardCharsets.UTF_8); // E2 9C 85
        Utf8StreamingDecoder d = over(new byte[] {'a', check[0]}, new byte[] {check[1]}, new byte[] {check[2], 'b'});
        assertThat(d.feed(0)).isEqualTo("a");
        assertThat(d.feed(1)).isEmpty();
        assertThat(d.feed(2)).isEqualTo("✅b");
        assertThat(d.flush()).isEmpty();
    }

    @Test
    void brokenBytesBecomeReplacementCharactersWithoutStalling() {
        Utf8StreamingDecoder d = over(new byte[] {(byte) 0x80}, new byte[] {(byte) 0xE2, 'x'}, new byte[] {(byte) 0xF0, (byte) 0x9F});
        assertThat(d.feed(0)).as("a stray continuation byte").isEqualTo("\uFFFD");
        assertThat(d.feed(1)).as("a lead byte followed by ASCII").isEqualTo("\uFFFDx");
        assertThat(d.feed(2)).as("an incomplete emoji waits").isEmpty();
        assertThat(d.flush()).as("and is flushed as U+FFFD").isEqualTo("\uFFFD");
        assertThat(d.flush()).isEmpty();
    }

    @Test
    void completePrefixStopsOnlyBeforeAnUnfinishedSequence() {
        assertThat(Utf8StreamingDecoder.completePrefix(new byte[0])).isZero();
        assertThat(Utf8StreamingDecoder.completePrefix("abc".getBytes(StandardCharsets.UTF_8))).isEqualTo(3);
        byte[] llama = "🦙".getBytes(StandardCharsets.UTF_8);
        for (int n = 1; n < 4; n++) {
            byte[] b = new byte[n + 1];
            b[0] = 'x';
            System.arraycopy(llama, 0, b, 1, n);
            assertThat(Utf8StreamingDecoder.completePrefix(b)).as("%d of 4 bytes", n).isEqualTo(1);
        }
        assertThat(Utf8StreamingDecoder.completePrefix(llama)).isEqualTo(4);
        assertThat(Utf8StreamingDecoder.completePrefix(new byte[] {(byte) 0xFF})).isEqualTo(1);
    }
}
