/**
 * Choosing tokens and ending generation: {@link io.kvserve.model.sampling.SamplerConfig} and
 * {@link io.kvserve.model.sampling.Sampler} (llama.cpp's chain: penalties, top-k, top-p, min-p,
 * temperature, a seeded draw), {@link io.kvserve.model.sampling.StopStringMatcher} for streaming
 * stop strings, and {@link io.kvserve.model.sampling.GenerationLimits}.
 */
package io.kvserve.model.sampling;
