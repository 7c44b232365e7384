package io.kvserve.bench;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Packed windows of {@code kvserve eval kv --window}: boundaries, BOS placement and context splits, by hand. */
class KvFidelityWindowsTest {
    /** Four tokenized stories, each opening with BOS (1): 4 + 3 + 5 + 2 = 14 tokens. */
    private static final List<int[]> STORIES = List.of(
            new int[] {1, 10, 11, 12}, new int[] {1, 20, 21}, new int[] {1, 30, 31, 32, 33}, new int[] {1, 40});

    /**
     * The stream is 1 10 11 12 | 1 20 21 | 1 30 31 32 33 | 1 40; windows of 4 cut it at 4, 8 and 12, so
     * the second window holds the whole second story and the BOS of the third, and the third window
     * starts mid-story with no BOS. The 2 tokens left over are never used.
     */
    @Test
    void windowsAreConsecutiveCutsOfTheConcatenatedStories() {
        List<KvFidelityEval.Story> w = KvFidelityEval.packWindows(STORIES, 4, 3, 0.5);
        assertThat(w).hasSize(3);
        assertThat(w.get(0).tokens()).containsExactly(1, 10, 11, 12);
        assertThat(w.get(1).tokens()).containsExactly(1, 20, 21, 1);
        assertThat(w.get(2).tokens()).containsExactly(30, 31, 32, 33);
        for (KvFidelityEval.Story s : w) assertThat(s.context()).as("round(4 x 0.5)").isEqualTo(2);
    }

    /** A window may span several stories and end mid-story: 7 tokens = the first story, then 3 of the second. */
    @Test
    void aWindowSpansStoryBoundaries() {
        List<KvFidelityEval.Story> w = KvFidelityEval.packWindows(STORIES, 7, 2, 0.25);
        assertThat(w.get(0).tokens()).containsExactly(1, 10, 11, 12, 1, 20, 21);
        assertThat(w.get(1).tokens()).containsExactly(1, 30, 31, 32, 33, 1, 40);
        assertThat(w.get(0).context()).as("round(7 x 0.25) = round(1.75)").isEqualTo(2);
    }

    /** Every window keeps at least one context token and scores at least one token. */
    @Test
    void theContextSplitLeavesSomethingOnEachSide() {
        assertThat(KvFidelityEval.packWindows(STORIES, 4, 1, 0.9).getFirst().context()).as("round(3.6) = 4, clamped to 3").isEqualTo(3);
        assertThat(KvFidelityEval.packWindows(STORIES, 4, 1, 0.1).getFirst().context()).as("round(0.4) = 0, clamped to 1").isEqualTo(1);
    }

    @Test
    void tooFewTokensIsAClearError() {
        assertThatThrownBy(() -> KvFidelityEval.packWindows(STORIES, 4, 4, 0.5))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the text has 14 tokens, enough for 3 windows of 4, not 4: lower --windows or --window, or give a longer --text");
        assertThatThrownBy(() -> KvFidelityEval.packWindows(STORIES, 4, 1, 1.0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--context-fraction");
    }
}
