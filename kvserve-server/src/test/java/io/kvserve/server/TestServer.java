package io.kvserve.server;

import io.kvserve.engine.AdmissionPolicy;
import io.kvserve.engine.Engine;
import io.kvserve.engine.Scheduler;
import io.kvserve.model.Model;
import io.kvserve.model.TestAssets;
import io.kvserve.model.WorkerPool;
import io.kvserve.model.chat.ChatTemplate;
import io.kvserve.model.chat.FallbackTemplates;
import io.kvserve.model.tokenizer.Tokenizer;

import java.time.Clock;
import java.time.Duration;
import java.util.SplittableRandom;

/** A stories260K server on 127.0.0.1 and a free port. */
final class TestServer {
    private TestServer() {}

    static Model model() throws Exception {
        return Model.load(TestAssets.require("models/stories260K.gguf"), null);
    }

    static ChatTemplate template(Model model) {
        Tokenizer tok = model.tokenizer();
        String bos = tok.bosId() >= 0 ? tok.tokenPiece(tok.bosId()) : "";
        String eos = tok.eosId() >= 0 ? tok.tokenPiece(tok.eosId()) : "";
        return model.gguf() != null ? ChatTemplate.fromGguf(model.gguf(), bos, eos) : ChatTemplate.builtIn(FallbackTemplates.Kind.PLAIN, bos, eos);
    }

    static OpenAiServer start(Model model, Engine.Config engineConfig, AdmissionPolicy admission, ServerConfig config) throws Exception {
        Engine engine = new Engine(model, model.newContiguousCache(model.config().contextLength()), WorkerPool.shared(), engineConfig,
                Scheduler.fcfs(), admission, Clock.systemUTC(), new SplittableRandom(1)).start();
        return new OpenAiServer(engine, template(model), config).start();
    }

    static OpenAiServer start(Model model, ServerConfig config) throws Exception {
        return start(model, new Engine.Config(64, 8, 16, 1024, 8), AdmissionPolicy.kvBudget(32, Duration.ofSeconds(30), Duration.ofSeconds(1)), config);
    }
}
