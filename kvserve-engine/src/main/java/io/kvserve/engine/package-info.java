/**
 * The serving engine: request lifecycle ({@link io.kvserve.engine.RequestState}), the continuous
 * batching loop ({@link io.kvserve.engine.Engine}), scheduler policies ({@link io.kvserve.engine.Scheduler})
 * and admission control ({@link io.kvserve.engine.AdmissionPolicy}). No HTTP and no JSON here: the
 * server module translates requests into {@link io.kvserve.engine.EngineRequest}s and events back.
 */
package io.kvserve.engine;
