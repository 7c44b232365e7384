package io.kvserve.model.synth;

/**
 * Llama 3 style RoPE frequency scaling ("rope_type": "llama3" in a Hugging Face config). llama.cpp
 * stores it not as metadata but as the F32 tensor {@code rope_freqs.weight} of per-frequency factors,
 * which {@link #ropeFactors} computes the way llama.cpp's {@code convert_hf_to_gguf.py} does.
 *
 * @param factor           divides the lowest frequencies (Llama 3.2: 32)
 * @param lowFreqFactor    wavelengths above {@code originalContext / lowFreqFactor} are fully scaled (1)
 * @param highFreqFactor   wavelengths below {@code originalContext / highFreqFactor} are kept (4)
 * @param originalContext  the context length the model was pre-trained with (8192)
 */
public record RopeScaling(float factor, float lowFreqFactor, float highFreqFactor, int originalContext) {
    public RopeScaling {
        if (!(factor >= 1)) throw new IllegalArgumentException("rope scaling factor must be at least 1, got " + factor);
        if (!(lowFreqFactor > 0) || !(highFreqFactor > lowFreqFactor)) {
            throw new IllegalArgumentException("need 0 < low_freq_factor < high_freq_factor, got " + lowFreqFactor + ", " + highFreqFactor);
        }
        if (originalContext <= 0) throw new IllegalArgumentException("original context must be positive, got " + originalContext);
    }

    /** The {@code headDim / 2} factors of {@code rope_freqs.weight}, in float32 arithmetic as torch computes them. */
    public float[] ropeFactors(int headDim, double theta) {
        float[] out = new float[headDim / 2];
        float lowFreqWavelen = originalContext / lowFreqFactor;
        float highFreqWavelen = originalContext / highFreqFactor;
        for (int i = 0; i < out.length; i++) {
            float exponent = (float) (2 * i) / headDim;
            float freq = 1.0f / (float) Math.pow(theta, exponent);
            float wavelen = (float) (2 * Math.PI) / freq;
            if (wavelen < highFreqWavelen) {
                out[i] = 1f;
            } else if (wavelen > lowFreqWavelen) {
                out[i] = factor;
            } else {
                float smooth = (originalContext / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                out[i] = 1f / ((1f - smooth) / factor + smooth);
            }
        }
        return out;
    }
}
