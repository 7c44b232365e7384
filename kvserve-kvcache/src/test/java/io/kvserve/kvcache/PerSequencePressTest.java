package io.kvserve.kvcache;

import io.kvserve.kvcache.press.PressRegistry;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A press per sequence ({@link PagedKvCache#setPress}) and the byte bound a serving engine reserves, on a cache small enough to count by hand. */
class PerSequencePressTest {
    // 1 layer, 1 KV head, head dim 2, 4 tokens per page, F32: a row is 8 bytes, a page (4 keys + 4 values) 64 bytes
    static PagedKvCache cache() {
        return new PagedKvCache(1, 1, 2, 1, 512, KvStorage.parse("f32"), 4, 1 << 20, null);
    }

    static void append(PagedKvCache c, int seq, int from, int to) {
        for (int p = from; p < to; p++) c.append(0, seq, p, new float[]{p, 1}, 0, new float[]{1, p}, 0);
    }

    @Test
    void theBoundFollowsTheKeptTokensAndTheDecodeInterval() {
        PagedKvCache c = cache();
        int plain = c.open();
        int decode = c.open(PressRegistry.parse("decode:every=4/streamingllm:ratio=0.5,sinks=1"));
        int once = c.open(PressRegistry.parse("streamingllm:ratio=0.5,sinks=1"));
        for (int s : new int[]{plain, decode, once}) {
            append(c, s, 0, 10);
            assertThat(c.sequenceBytes(s)).as("10 tokens: 3 pages").isEqualTo(192);
            c.stepDone(s);
        }
        assertThat(c.sequenceBytes(plain)).as("no press: untouched").isEqualTo(192);
        assertThat(c.storedTokens(decode, 0, 0)).as("10 - floor(0.5 * 10)").isEqualTo(5);
        assertThat(c.storedPositions(decode, 0, 0)).as("the sink and the 4 most recent").containsExactly(0, 6, 7, 8, 9);
        assertThat(c.sequenceBytes(decode)).as("5 tokens: 2 pages").isEqualTo(128);
        assertThat(c.sequenceBytesBound(decode, 100)).as("back to 5 every 4 positions: at most 9 tokens, 3 pages").isEqualTo(192);
        assertThat(c.sequenceBytesBound(decode, 2)).as("only 2 more: 7 tokens, 2 pages").isEqualTo(128);
        assertThat(c.sequenceBytesBound(once, 100)).as("no decode-time press: 105 tokens, 27 pages").isEqualTo(27 * 64);
        assertThat(c.sequenceBytesBound(plain, 2)).as("12 tokens, 3 pages").isEqualTo(192);
        // the decode press runs at the 4th position after the prefill, as in generation
        append(c, decode, 10, 13);
        c.stepDone(decode);
        assertThat(c.storedTokens(decode, 0, 0)).isEqualTo(8);
        append(c, decode, 13, 14);
        c.stepDone(decode);
        assertThat(c.storedPositions(decode, 0, 0)).containsExactly(0, 10, 11, 12, 13);
        assertThat(c.allocator().bytesInUse()).isEqualTo(192 + 128 + 128);
        for (int s : new int[]{plain, decode, once}) c.release(s);
        assertThat(c.allocator().pagesInUse()).isZero();
    }

    @Test
    void aPressIsSetBeforeItRunsAndPrefillDriversAreRefused() {
        PagedKvCache c = cache();
        int s = c.open(PressRegistry.parse("streamingllm:ratio=0.5,sinks=1"));
        append(c, s, 0, 8);
        c.stepDone(s);
        assertThatThrownBy(() -> c.setPress(s, PressRegistry.parse("knorm"))).isInstanceOf(IllegalStateException.class).hasMessageContaining("already ran");
        assertThat(c.perSequenceRefusal(PressRegistry.parse("kvzip"))).contains("drives the prefill itself");
        assertThat(c.perSequenceRefusal(PressRegistry.parse("decode:every=8/fastkv"))).contains("fastkv");
        assertThat(c.perSequenceRefusal(PressRegistry.parse("decode:every=8/h2o"))).isNull();
        assertThatThrownBy(() -> c.open(PressRegistry.parse("kvzip"))).isInstanceOf(IllegalArgumentException.class);
        assertThat(c.press(s).spec()).startsWith("streamingllm");
    }

    @Test
    void theObservationWindowKeepsTheLatestPositionOfEachSlot() {
        PagedKvCache c = cache();
        int s = c.open(PressRegistry.parse("snapkv:ratio=0.5,window=4,kernel=1"));
        append(c, s, 0, 12);
        float[] out = new float[2], scores = new float[16];
        // a parallel prefill may attend position 9 after 5 (slot 1 of 4) and 11 after 7: the later position must stay
        for (int p : new int[]{9, 10, 11, 8, 5, 6, 7, 4}) c.attend(0, s, 0, new float[]{p, 0}, 0, 1, p, 1f, out, 0, scores);
        assertThat(c.pressContext(s).windowPositions()).containsExactly(8, 9, 10, 11);
        assertThat(c.pressContext(s).windowQueries(0, 0)).containsExactly(8, 0, 9, 0, 10, 0, 11, 0);
        c.truncate(s, 10);
        assertThat(c.pressContext(s).windowPositions()).as("truncation drops window slots past the end").containsExactly(8, 9);
    }
}
