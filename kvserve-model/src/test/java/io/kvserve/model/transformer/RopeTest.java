package io.kvserve.model.transformer;

import io.kvserve.model.ModelConfig;
import io.kvserve.model.RopeLayout;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class RopeTest {
    private static ModelConfig config(RopeLayout layout, float[] factors, float linear, int ropeDim) {
        return new ModelConfig("llama", 64, 1, 4, 2, 16, 128, 32, 4096, 1e-5f, 500000f, ropeDim, layout, factors, linear);
    }

    @Test
    void rerotationEqualsRotationAtTheNewPositionForEveryVariant() {
        float[] llama3 = new float[8];
        for (int i = 0; i < 8; i++) llama3[i] = i < 3 ? 1f : i < 6 ? 2.5f : 8f;
        ModelConfig[] configs = {
                config(RopeLayout.ADJACENT_PAIRS, null, 1f, 16),
                config(RopeLayout.NEOX_HALVES, null, 1f, 16),
                config(RopeLayout.ADJACENT_PAIRS, llama3, 1f, 16),
                config(RopeLayout.NEOX_HALVES, null, 4f, 16),
                config(RopeLayout.NEOX_HALVES, null, 1f, 8)};   // partial rotary dimension
        Random rnd = new Random(7);
        for (ModelConfig c : configs) {
            Rope rope = new Rope(c);
            for (int trial = 0; trial < 50; trial++) {
                int a = rnd.nextInt(3000), b = rnd.nextInt(3000);
                float[] x = new float[2 * 16];
                for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
                float[] atA = x.clone(), atB = x.clone();
                rope.rotate(atA, 0, 2, a);
                rope.rotate(atB, 0, 2, b);
                rope.rerotate(atA, 0, 2, a, b);
                for (int i = 0; i < x.length; i++) assertThat(atA[i]).as("%s a=%d b=%d i=%d", c.ropeLayout(), a, b, i).isCloseTo(atB[i], within(2e-3f));
                rope.unrotate(atB, 0, 2, b);
                for (int i = 0; i < x.length; i++) assertThat(atB[i]).isCloseTo(x[i], within(2e-3f));
            }
        }
    }

    @Test
    void dimensionsPastTheRotaryDimensionAreUntouched() {
        Rope rope = new Rope(config(RopeLayout.NEOX_HALVES, null, 1f, 8));
        float[] x = new float[16];
        for (int i = 0; i < 16; i++) x[i] = i + 1;
        rope.rotate(x, 0, 1, 123);
        for (int i = 8; i < 16; i++) assertThat(x[i]).isEqualTo(i + 1f);
        assertThat(rope.firstOf(1)).isEqualTo(1);
        assertThat(rope.secondOf(1)).isEqualTo(5);
    }
}
