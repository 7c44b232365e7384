package io.kvserve.kvcache.reuse;

/**
 * A run of prompt tokens found in a stored segment: prompt positions
 * {@code promptStart .. promptStart + length - 1} hold exactly the segment's tokens
 * {@code segmentOffset .. segmentOffset + length - 1}.
 */
public record Fragment(int promptStart, SegmentKv segment, int segmentOffset, int length) {
    public Fragment {
        if (promptStart < 0 || segmentOffset < 0 || length < 1 || segmentOffset + length > segment.length()) {
            throw new IllegalArgumentException("fragment [" + segmentOffset + ", " + (segmentOffset + length) + ") does not fit a segment of " + segment.length() + " tokens");
        }
    }

    public int promptEnd() {
        return promptStart + length;
    }
}
