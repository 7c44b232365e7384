package io.kvserve.model.sampling;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class StopStringMatcherTest {

    /** Feeds the pieces and returns every emit, then the flush (if no stop) as the last element. */
    static List<String> run(List<String> stops, String... pieces) {
        StopStringMatcher m = new StopStringMatcher(stops);
        List<String> out = new ArrayList<>();
        for (String p : pieces) out.add(m.feed(p).emit());
        out.add(m.flush());
        return out;
    }

    @Test
    void withoutStopStringsEverythingIsEmittedAtOnce() {
        assertThat(run(List.of(), "Hel", "lo")).containsExactly("Hel", "lo", "");
    }

    @Test
    void stopInsideOnePieceIsCutAndNotEmitted() {
        StopStringMatcher m = new StopStringMatcher(List.of("###"));
        StopStringMatcher.Result r = m.feed("Hello world###more");
        assertThat(r.emit()).isEqualTo("Hello world");
        assertThat(r.stopped()).isTrue();
        assertThat(r.stop()).isEqualTo("###");
        assertThat(m.feed("ignored").emit()).isEmpty();
        assertThat(m.flush()).isEmpty();
    }

    @Test
    void stopAcrossPieceBoundariesIsHeldBackThenDropped() {
        StopStringMatcher m = new StopStringMatcher(List.of("<|im_end|>"));
        assertThat(m.feed("Hel").emit()).isEqualTo("Hel");
        assertThat(m.feed("lo <").emit()).isEqualTo("lo ");
        assertThat(m.heldLength()).isEqualTo(1);
        assertThat(m.feed("|im_").emit()).isEmpty();
        StopStringMatcher.Result r = m.feed("end|> trailing");
        assertThat(r.emit()).isEmpty();
        assertThat(r.stopped()).isTrue();
        assertThat(m.matchedStop()).isEqualTo("<|im_end|>");
    }

    @Test
    void aFalseAlarmIsReleasedWhenTheTextDiverges() {
        assertThat(run(List.of("<|im_end|>"), "a <|im", "port b")).containsExactly("a ", "<|import b", "");
        assertThat(run(List.of("STOP"), "ST")).containsExactly("", "ST"); // flushed at the end
    }

    @Test
    void overlappingPrefixesHoldOnlyWhatCanStillMatch() {
        // "aab": after "aaa" the first "a" can no longer start the stop
        assertThat(run(List.of("aab"), "a", "a", "a", "b", "c")).containsExactly("", "", "a", "", "", "");
        // "abc" in "ababc": the first "ab" is released when the second "ab" arrives
        assertThat(run(List.of("abc"), "ab", "ab", "c")).containsExactly("", "ab", "", "");
    }

    @Test
    void theStopThatCompletesFirstWins() {
        StopStringMatcher m = new StopStringMatcher(List.of("abcd", "bc"));
        StopStringMatcher.Result r = m.feed("xabcd");
        assertThat(r.emit()).isEqualTo("xa");
        assertThat(r.stop()).isEqualTo("bc");
        StopStringMatcher m2 = new StopStringMatcher(List.of("bc", "abc"));
        assertThat(m2.feed("xabc").stop()).isEqualTo("abc"); // same end: the longer one, which starts first
    }

    @Test
    void surrogatePairsAreNeverSplit() {
        String emoji = "\uD83D\uDE00";
        assertThat(run(List.of("x"), "a\uD83D", "\uDE00b")).containsExactly("a", emoji + "b", "");
        assertThat(run(List.of(), "\uD83D", "\uDE00")).containsExactly("", emoji, "");
    }

    /**
     * Property: however the text is cut into pieces, the emitted text is the text before the first
     * stop string to complete, and everything emitted so far is always a prefix of that (nothing is
     * emitted that later turns out to be part of a stop).
     */
    @Test
    void resultDoesNotDependOnHowTheTextIsCut() {
        SplittableRandom r = new SplittableRandom(2024);
        for (int trial = 0; trial < 2000; trial++) {
            String text = randomString(r, r.nextInt(0, 40));
            List<String> stops = new ArrayList<>();
            for (int i = r.nextInt(1, 4); i > 0; i--) stops.add(randomString(r, r.nextInt(1, 5)));
            String expected = referenceOutput(text, stops);

            StopStringMatcher m = new StopStringMatcher(stops);
            StringBuilder emitted = new StringBuilder();
            int pos = 0;
            while (pos < text.length() && !m.stopped()) {
                int len = r.nextInt(1, 6);
                String piece = text.substring(pos, Math.min(text.length(), pos + len));
                pos += piece.length();
                emitted.append(m.feed(piece).emit());
                assertThat(expected).as("text %s stops %s", text, stops).startsWith(emitted.toString());
            }
            emitted.append(m.flush());
            assertThat(emitted.toString()).as("text %s stops %s", text, stops).isEqualTo(expected);
            assertThat(m.stopped()).isEqualTo(containsAny(text, stops));
        }
    }

    /** Character by character: the first position where some stop string ends; the longest one ending there. */
    private static String referenceOutput(String text, List<String> stops) {
        for (int end = 1; end <= text.length(); end++) {
            int start = Integer.MAX_VALUE;
            for (String s : stops) if (end >= s.length() && text.startsWith(s, end - s.length())) start = Math.min(start, end - s.length());
            if (start != Integer.MAX_VALUE) return text.substring(0, start);
        }
        return text;
    }

    private static boolean containsAny(String text, List<String> stops) {
        return stops.stream().anyMatch(text::contains);
    }

    private static String randomString(SplittableRandom r, int len) {
        StringBuilder sb = new StringBuilder(len);
        for (int i = 0; i < len; i++) sb.append("abc".charAt(r.nextInt(3)));
        return sb.toString();
    }

    @Test
    void stopStringsMustBeNonEmpty() {
        assertThatThrownBy(() -> new StopStringMatcher(List.of("ok", ""))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("#1");
    }

    @Test
    void generationLimitsValidateAndMakeMatchers() {
        var limits = new GenerationLimits(16, List.of("</s>"), false);
        assertThat(limits.newStopMatcher().feed("a</s>b").emit()).isEqualTo("a");
        assertThat(new GenerationLimits(8).stop()).isEmpty();
        assertThatThrownBy(() -> new GenerationLimits(0, List.of(), false)).hasMessageContaining("maxTokens must be > 0");
        assertThatThrownBy(() -> new GenerationLimits(1, null, false)).hasMessageContaining("stop must not be null");
        assertThatThrownBy(() -> new GenerationLimits(1, List.of(""), false)).hasMessageContaining("stop string #0 is empty");
        List<String> mutable = new ArrayList<>(List.of("x"));
        var copy = new GenerationLimits(1, mutable, true);
        mutable.add("y");
        assertThat(copy.stop()).containsExactly("x");
    }
}
