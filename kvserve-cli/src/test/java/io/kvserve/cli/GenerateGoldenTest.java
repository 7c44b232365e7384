package io.kvserve.cli;

import io.kvserve.model.TestAssets;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code kvserve generate --temperature 0} over 256 positions prints exactly what llama2.c's run.c
 * printed (stories260K.greedy.txt), from the GGUF file and from the llama2.c checkpoint.
 */
class GenerateGoldenTest {
    static String expected(String prompt) throws Exception {
        String all = Files.readString(TestAssets.require("models/stories260K.greedy.txt"));
        Matcher m = Pattern.compile("==== prompt: \"" + Pattern.quote(prompt) + "\"[^\\n]*====\\n(.*?)==== ", Pattern.DOTALL).matcher(all);
        assertThat(m.find()).as("section for prompt '%s'", prompt).isTrue();
        return m.group(1);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "models/stories260K.gguf|Once upon a time|252",
            "models/stories260K.bin|Once upon a time|252",
            "models/stories260K.bin|''|256"})
    void greedyOutputEqualsRunC(String model, String prompt, int maxTokens) throws Exception {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int rc = Main.commandLine().setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(
                "generate", "--model", TestAssets.require(model).toString(), "--prompt", prompt,
                "--max-tokens", String.valueOf(maxTokens), "--temperature", "0", "--threads", "2");
        assertThat(rc).as("exit code; stderr: %s", err).isZero();
        assertThat(out.toString()).isEqualTo(expected(prompt));
    }
}
