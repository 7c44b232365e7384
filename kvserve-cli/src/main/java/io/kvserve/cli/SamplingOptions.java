package io.kvserve.cli;

import io.kvserve.model.generate.TokenChooser;
import io.kvserve.model.sampling.Sampler;
import io.kvserve.model.sampling.SamplerConfig;
import io.kvserve.model.tokenizer.Tokenizer;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;

/** Sampling options shared by generate and chat. */
public final class SamplingOptions {
    @Option(names = "--temperature", paramLabel = "T", description = "sampling temperature; 0 is greedy (default: 0.8)")
    float temperature = 0.8f;

    @Option(names = "--top-k", paramLabel = "K", description = "keep the K most likely tokens; 0 keeps all (default: 40)")
    int topK = 40;

    @Option(names = "--top-p", paramLabel = "P", description = "nucleus sampling threshold (default: 0.95)")
    float topP = 0.95f;

    @Option(names = "--min-p", paramLabel = "P", description = "drop tokens below P times the top probability (default: 0.05)")
    float minP = 0.05f;

    @Option(names = "--repeat-penalty", paramLabel = "X", description = "repetition penalty; 1 is off (default: 1.0)")
    float repeatPenalty = 1.0f;

    @Option(names = "--repeat-last-n", paramLabel = "N", description = "tokens the penalties look back over (default: 64)")
    int repeatLastN = 64;

    @Option(names = "--frequency-penalty", paramLabel = "X", description = "frequency penalty (default: 0)")
    float frequencyPenalty = 0f;

    @Option(names = "--presence-penalty", paramLabel = "X", description = "presence penalty (default: 0)")
    float presencePenalty = 0f;

    @Option(names = {"-s", "--seed"}, paramLabel = "S", description = "random seed; -1 picks one (default: -1)")
    long seed = -1;

    @Option(names = "--stop", paramLabel = "TEXT", description = "stop when this text is generated (repeatable); it is not printed")
    List<String> stop = new ArrayList<>();

    /** The sampler chain for these options; a seed of -1 draws one (and reports it on stderr). */
    TokenChooser chooser(Tokenizer tok) {
        long s = seed;
        if (s == -1) {
            s = new java.security.SecureRandom().nextLong() & Long.MAX_VALUE;
            if (temperature > 0) System.err.println("kvserve: seed " + s);
        }
        SamplerConfig config = new SamplerConfig(temperature, topK, topP, minP, repeatPenalty, repeatLastN, frequencyPenalty, presencePenalty, s);
        return Sampler.seeded(config)::sample;
    }
}
