/**
 * The OpenAI-compatible HTTP server: {@code /v1/chat/completions}, {@code /v1/completions} (with SSE
 * streaming), {@code /v1/models}, {@code /health}, {@code /ready} and {@code /metrics} (Prometheus),
 * over an {@link io.kvserve.engine.Engine}. No tensors here.
 */
package io.kvserve.server;
