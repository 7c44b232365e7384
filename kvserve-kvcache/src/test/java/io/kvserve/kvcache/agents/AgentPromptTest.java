package io.kvserve.kvcache.agents;

import io.kvserve.model.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Templates split at placeholders; prompts are BOS plus separately tokenised pieces, with their positions. */
class AgentPromptTest {
    @Test
    void parsesPlaceholdersAndKeepsOtherBraces() {
        AgentTemplate t = AgentTemplate.parse("Lily", "A {input} b {tom} c {not a slot} d");
        assertThat(t.slots()).containsExactly("input", "tom");
        assertThat(t.texts()).containsExactly("A ", " b ", " c {not a slot} d");
        assertThatThrownBy(() -> AgentTemplate.parse("Lily", "A {input}")).hasMessageContaining("must end with text");
    }

    @Test
    void layoutIsBosThenPiecesInOrder() {
        Tokenizer tok = CharTokenizer.INSTANCE;
        AgentTemplate t = AgentTemplate.parse("Lily", "ab{input}c{tom}de");
        AgentPrompt p = AgentPrompt.fill(tok, t, Map.of("input", "xyz", "tom", "q"));
        // BOS a b | x y z | c | q | d e
        assertThat(p.length()).isEqualTo(10);
        assertThat(p.textStart()).containsExactly(0, 6, 8);
        assertThat(p.textLength()).containsExactly(3, 1, 2);
        assertThat(p.slotStart()).containsExactly(3, 7);
        assertThat(p.slotLength()).containsExactly(3, 1);
        assertThat(p.messages()).isEqualTo(List.of("xyz", "q"));
        assertThatThrownBy(() -> AgentPrompt.fill(tok, t, Map.of("input", "x"))).hasMessageContaining("no message for placeholder {tom}");
    }

    /** One token per character, BOS = 0. */
    enum CharTokenizer implements Tokenizer {
        INSTANCE;
        @Override public int[] encode(String text, boolean addBos, boolean parseSpecial) {
            int[] r = new int[text.length() + (addBos ? 1 : 0)];
            int o = addBos ? 1 : 0;
            for (int i = 0; i < text.length(); i++) r[o + i] = text.charAt(i);
            return r;
        }
        @Override public String decode(int[] ids) {
            StringBuilder b = new StringBuilder();
            for (int id : ids) if (id > 0) b.append((char) id);
            return b.toString();
        }
        @Override public String tokenPiece(int id) { return String.valueOf((char) id); }
        @Override public byte[] tokenBytes(int id) { return tokenPiece(id).getBytes(); }
        @Override public io.kvserve.model.tokenizer.StreamingDecoder newStreamingDecoder() { throw new UnsupportedOperationException(); }
        @Override public int vocabSize() { return 256; }
        @Override public int bosId() { return 0; }
        @Override public int eosId() { return -1; }
        @Override public boolean addBosByDefault() { return true; }
        @Override public boolean isEndOfGeneration(int id) { return false; }
    }
}
