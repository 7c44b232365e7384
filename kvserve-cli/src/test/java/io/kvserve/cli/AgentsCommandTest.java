package io.kvserve.cli;

import io.kvserve.model.TestAssets;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code kvserve agents} runs a pipeline on stories260K and prints every turn; bad options are one-line errors. */
class AgentsCommandTest {
    private record Run(int rc, String out, String err) {}

    private Run run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int rc = Main.commandLine().setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(args);
        return new Run(rc, out.toString(), err.toString());
    }

    @Test
    void runsEveryAgentForEveryRoundAndReportsReuse() {
        String model = TestAssets.require("models/stories260K.gguf").toString();
        String text = TestAssets.require("data/tinystories_val.txt").toString();
        Run r = run("agents", "--model", model, "--text", text, "--agents", "2", "--rounds", "2", "--queries", "1", "--max-tokens", "8", "--mode", "prefix");
        assertThat(r.rc()).as(r.err()).isZero();
        assertThat(r.out()).contains("[round 1] Lily").contains("[round 1] Tom").contains("[round 2] Lily").contains("[round 2] Tom")
                .contains("mode prefix").containsPattern("reuse rate over the run: [0-9.]+% of [0-9]+ prompt tokens");
    }

    @Test
    void badOptionsAreNamed() {
        String model = TestAssets.require("models/stories260K.gguf").toString();
        Run r = run("agents", "--model", model, "--agents", "6");
        assertThat(r.rc()).isNotZero();
        assertThat(r.err()).contains("--agents must be 2 to 5").doesNotContain("\tat ");
        String text = TestAssets.require("data/tinystories_val.txt").toString();
        Run m = run("agents", "--model", model, "--text", text, "--mode", "fast", "--queries", "1", "--max-tokens", "4");
        assertThat(m.rc()).isNotZero();
        assertThat(m.err()).contains("unknown mode 'fast'").doesNotContain("\tat ");
    }
}
