package io.kvserve.cli;

import io.kvserve.model.TestAssets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/** A user's mistake gets one line naming the problem and exit code 1 (2 for bad syntax), never a stack trace. */
class CliErrorsTest {
    @TempDir
    Path dir;

    private record Run(int rc, String out, String err) {}

    private Run run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int rc = Main.commandLine().setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(args);
        return new Run(rc, out.toString(), err.toString());
    }

    private void assertUserError(Run r, String fragment) {
        assertThat(r.rc()).as("exit code, stderr: %s", r.err()).isNotZero();
        assertThat(r.err()).contains(fragment).doesNotContain("\tat ").doesNotContain("Exception in");
    }

    @Test
    void missingModel() {
        assertUserError(run("generate", "--model", dir.resolve("nope.gguf").toString()), "not found");
    }

    @Test
    void truncatedModel() throws Exception {
        byte[] all = Files.readAllBytes(TestAssets.require("models/stories260K.gguf"));
        Path cut = dir.resolve("cut.gguf");
        Files.write(cut, Arrays.copyOf(all, all.length / 2));
        assertUserError(run("generate", "--model", cut.toString()), "corrupted or incomplete");
    }

    @Test
    void directoryAsModel() {
        assertUserError(run("generate", "--model", dir.toString()), "directory");
    }

    @Test
    void vocabularyOnlyFile() {
        assertUserError(run("generate", "--model", TestAssets.require("models/vocab/ggml-vocab-gpt-2.gguf").toString()), "no tensors");
    }

    @Test
    void foreignFile() throws Exception {
        Path txt = dir.resolve("notes.bin");
        Files.writeString(txt, "this is not a model file at all, just some text that is long enough");
        assertUserError(run("generate", "--model", txt.toString()), "not a model file");
    }

    @Test
    void promptLongerThanContext() {
        assertUserError(run("generate", "--model", TestAssets.require("models/stories260K.gguf").toString(),
                "--ctx", "4", "--prompt", "Once upon a time there was a cat"), "context");
    }

    @Test
    void badSamplingParameters() {
        String model = TestAssets.require("models/stories260K.gguf").toString();
        assertUserError(run("generate", "--model", model, "--temperature", "-1"), "temperature");
        assertUserError(run("generate", "--model", model, "--top-p", "1.5"), "topP");
        assertUserError(run("generate", "--model", model, "--max-tokens", "-3"), "--max-tokens");
        assertUserError(run("generate", "--model", model, "--threads", "0"), "--threads");
    }

    @Test
    void unknownOption() {
        Run r = run("generate", "--no-such-option");
        assertThat(r.rc()).isEqualTo(2);
        assertThat(r.err()).contains("Unknown option");
    }

    @Test
    void stopStringIsNotPrinted() {
        Run r = run("generate", "--model", TestAssets.require("models/stories260K.gguf").toString(), "--temperature", "0",
                "--max-tokens", "100", "--stop", "Lily");
        assertThat(r.rc()).isZero();
        assertThat(r.out()).isEqualTo("Once upon a time, there was a little girl named \n");
    }
}
