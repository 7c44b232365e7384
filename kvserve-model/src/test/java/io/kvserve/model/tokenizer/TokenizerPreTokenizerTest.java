package io.kvserve.model.tokenizer;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The regex splits of llama.cpp's pre-tokenizers, on the cases where they differ. */
class TokenizerPreTokenizerTest {
    static final PreTokenizer GPT2 = PreTokenizer.forName("gpt-2");
    static final PreTokenizer LLAMA3 = PreTokenizer.forName("llama-bpe");
    static final PreTokenizer QWEN2 = PreTokenizer.forName("qwen2");
    static final PreTokenizer SMOLLM = PreTokenizer.forName("smollm");

    @Test
    void lastSpaceOfARunGoesToTheNextWord() {
        assertThat(GPT2.split("Hello   world  ")).containsExactly("Hello", "  ", " world", "  ");
        assertThat(LLAMA3.split("Hello   world  ")).containsExactly("Hello", "  ", " world", "  ");
    }

    @Test
    void digits() {
        assertThat(GPT2.split("x 1234567")).containsExactly("x", " 1234567");
        assertThat(LLAMA3.split("x 1234567")).containsExactly("x", " ", "123", "456", "7");
        assertThat(QWEN2.split("x 123")).containsExactly("x", " ", "1", "2", "3");
        assertThat(SMOLLM.split("x 123")).containsExactly("x", " ", "1", "2", "3");
    }

    @Test
    void contractions() {
        assertThat(GPT2.split("I'M he's")).containsExactly("I", "'", "M", " he", "'s");
        assertThat(LLAMA3.split("I'M he's")).containsExactly("I", "'M", " he", "'s");
        // no Unicode case folding: U+212A KELVIN SIGN is not a 'k', U+017F LONG S is not an 's'
        assertThat(LLAMA3.split("a'\u017F")).containsExactly("a", "'\u017F");
    }

    @Test
    void newlinesAndPunctuation() {
        assertThat(LLAMA3.split("Hi!!\n\n  there")).containsExactly("Hi", "!!\n\n", " ", " there");
        assertThat(LLAMA3.split("a  \n\n b")).containsExactly("a", "  \n\n", " b");
        assertThat(GPT2.split("a\n\nb")).containsExactly("a", "\n", "\n", "b");
    }

    @Test
    void unicodeWhitespaceIsWhitespace() {
        // Java's own \s is ASCII only; llama.cpp uses Unicode White_Space
        assertThat(GPT2.split("a\u3000b")).containsExactly("a", "\u3000", "b");
        assertThat(GPT2.split("a\u00A0\u00A0b")).containsExactly("a", "\u00A0", "\u00A0", "b");
        assertThat(LLAMA3.split("a\u3000b")).containsExactly("a", "\u3000b");
    }

    @Test
    void piecesJoinBackToTheText() {
        String text = TokenizerPerformanceTest.prose();
        for (String pre : new String[] {"default", "gpt-2", "llama-bpe", "qwen2", "smollm", "starcoder"}) {
            assertThat(String.join("", PreTokenizer.forName(pre).split(text))).as(pre).isEqualTo(text);
        }
    }

    /** Random strings over the characters where the regexes could go wrong, against the port of llama.cpp's splitters. */
    @Test
    void regexesAgreeWithLlamaCppHandWrittenSplitters() {
        String[] pool = {"a", "Z", "é", "ß", "日", "本", "𠜎", "1", "٣", "½", "Ⅻ", " ", "  ", "\t", "\n", "\r", "\r\n", "\u3000",
                "\u00A0", "\u2009", "\u0085", "\u000B", "\u001C", "\u200B", "'", "'s", "'S", "'ll", "'Re", "'vE", "'D", "'x", "!", "?",
                ".", ",", "-", "\"", "🦙", "✅", "\u0301", "\u212A", "\u017F", "$", "€", "\uE000"};
        java.util.Random rnd = new java.util.Random(20261128);
        java.util.List<String> differences = new java.util.ArrayList<>();
        for (int i = 0; i < 2000; i++) {
            StringBuilder sb = new StringBuilder();
            int n = 1 + rnd.nextInt(12);
            for (int j = 0; j < n; j++) sb.append(pool[rnd.nextInt(pool.length)]);
            String text = sb.toString();
            for (var kind : LlamaCppSplitter.Kind.values()) {
                PreTokenizer pre = switch (kind) {
                    case GPT2 -> GPT2;
                    case LLAMA3 -> LLAMA3;
                    case QWEN2 -> QWEN2;
                };
                java.util.List<String> expected = LlamaCppSplitter.split(text, kind);
                if (!pre.split(text).equals(expected)) differences.add(kind + " " + escape(text) + ": expected " + expected.stream().map(TokenizerPreTokenizerTest::escape).toList());
            }
        }
        assertThat(differences).isEmpty();
    }

    static String escape(String s) {
        StringBuilder sb = new StringBuilder("\"");
        s.codePoints().forEach(cp -> sb.append(cp >= 0x20 && cp < 0x7f ? Character.toString(cp) : String.format("\\u{%X}", cp)));
        return sb.append('"').toString();
    }

    @Test
    void unknownNameIsRejected() {
        assertThatThrownBy(() -> PreTokenizer.forName("tekken")).hasMessageContaining("'tekken' is not supported");
        assertThat(PreTokenizer.forName(null).name()).isEqualTo("default");
    }

    @Test
    void byteUnicodeMapIsGpt2s() {
        assertThat(ByteUnicodeMap.encode(" ")).isEqualTo("Ġ");
        assertThat(ByteUnicodeMap.encode("\n")).isEqualTo("Ċ");
        assertThat(ByteUnicodeMap.encode("é")).isEqualTo("Ã©");
        for (int b = 0; b < 256; b++) assertThat(ByteUnicodeMap.decode(ByteUnicodeMap.encode(b))).isEqualTo(b);
        assertThat(ByteUnicodeMap.decode('€')).isEqualTo(-1);
    }
}
