package io.kvserve.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kvserve.kernels.GgmlType;
import io.kvserve.model.gguf.GgufFile;
import io.kvserve.model.gguf.GgufWriter;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

class InspectAndSynthCommandTest {
    @TempDir
    static Path dir;
    static Path vocab;

    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @BeforeAll
    static void writeVocab() throws IOException {
        String[] tokens = new String[64];
        for (int i = 0; i < tokens.length; i++) tokens[i] = "tok" + i;
        vocab = dir.resolve("vocab.gguf");
        new GgufWriter().putString("tokenizer.ggml.model", "gpt2").putString("tokenizer.ggml.pre", "qwen2")
                .putStringArray("tokenizer.ggml.tokens", tokens).putUInt32("tokenizer.ggml.eos_token_id", 3)
                .putString("tokenizer.chat_template", "x".repeat(500)).write(vocab);
    }

    @Test
    void synthThenInspectATinyQwen3() throws IOException {
        Path out = dir.resolve("q3.gguf");
        Run s = run("synth", "--arch", "qwen3", "--dim", "64", "--layers", "2", "--heads", "4", "--kv-heads", "2",
                "--head-dim", "32", "--ffn", "96", "--vocab", vocab.toString(), "--out", out.toString(), "--type", "f16", "--seed", "3");
        assertThat(s.code).as(s.err).isZero();
        assertThat(s.err).contains("synth: wrote").contains("F16");
        try (GgufFile f = GgufFile.open(out)) {
            assertThat(f.getString("general.architecture")).isEqualTo("qwen3");
            assertThat(f.getLong("qwen3.attention.key_length")).isEqualTo(32);
            assertThat(f.requireTensor("blk.1.attn_q.weight").shape()).containsExactly(64, 128);
            assertThat(f.requireTensor("blk.1.attn_q_norm.weight").shape()).containsExactly(32);
            assertThat(f.tensor("output.weight")).isNull();
        }

        Run again = run("synth", "--shape", "qwen3-0.6b", "--layers", "1", "--vocab", vocab.toString(), "--out", out.toString());
        assertThat(again.code).isEqualTo(1);
        assertThat(again.err).contains("kvserve: ").contains("--force");

        Path json = dir.resolve("q3.json");
        Run i = run("inspect", "--model", out.toString(), "--json", json.toString());
        assertThat(i.code).as(i.err).isZero();
        assertThat(i.out).contains("version 3, alignment 32")
                .contains("general.file_type").contains("1 (F16)")
                .contains("tokenizer.ggml.tokens").contains("64: [\"tok0\", \"tok1\"").contains(", ...]")
                .contains("... (500 chars)")
                .contains("blk.1.ffn_down.weight").contains("[96, 64]")
                .containsPattern("F16 +15 tensors");
        JsonNode root = new ObjectMapper().readTree(json.toFile());
        assertThat(root.get("version").asInt()).isEqualTo(3);
        assertThat(root.at("/metadata/qwen3.block_count/type").asText()).isEqualTo("uint32");
        assertThat(root.at("/metadata/qwen3.block_count/value").asInt()).isEqualTo(2);
        assertThat(root.at("/metadata/tokenizer.ggml.tokens/length").asInt()).isEqualTo(64);
        assertThat(root.at("/metadata/tokenizer.ggml.tokens/head")).hasSize(8);
        assertThat(root.get("tensors")).hasSize(1 + 2 * 11 + 1);
        assertThat(root.at("/totals/types/F16/tensors").asInt()).isEqualTo(1 + 2 * 7);
        long params = 0;
        for (JsonNode t : root.get("tensors")) {
            long n = 1;
            for (JsonNode d : t.get("shape")) n *= d.asLong();
            params += n;
        }
        assertThat(root.at("/totals/params").asLong()).isEqualTo(params);

        Run toStdout = run("inspect", "--model", out.toString(), "--json", "-", "--items", "2");
        assertThat(toStdout.code).isZero();
        assertThat(new ObjectMapper().readTree(toStdout.out).at("/metadata/tokenizer.ggml.tokens/head")).hasSize(2);
    }

    @Test
    void corruptOrMissingFilesPrintOneLineAndExit1() throws IOException {
        Path good = dir.resolve("good.gguf");
        new GgufWriter().putString("general.architecture", "llama")
                .addTensor("t", GgmlType.F32, new long[]{8, 8}, (r, d) -> Arrays.fill(d, r)).write(good);
        byte[] bytes = Files.readAllBytes(good);
        Path cut = dir.resolve("cut.gguf");
        Files.write(cut, Arrays.copyOf(bytes, bytes.length - 100));
        for (Path p : new Path[]{cut, dir.resolve("missing.gguf"), dir}) {
            Run r = run("inspect", "--model", p.toString());
            assertThat(r.code).as(p.toString()).isEqualTo(1);
            assertThat(r.err).startsWith("kvserve: ").doesNotContain("Exception").doesNotContain("\tat ");
            assertThat(r.err.strip().lines()).hasSize(1);
        }
        assertThat(run("inspect", "--model", cut.toString()).err).contains("ends past the file");
        assertThat(run("inspect", "--model", dir.resolve("missing.gguf").toString()).err).contains("file not found");
    }

    @Test
    void badSynthArgumentsAreUserErrors() {
        Run r = run("synth", "--shape", "gpt-9", "--vocab", vocab.toString(), "--out", dir.resolve("x.gguf").toString());
        assertThat(r.code).isEqualTo(1);
        assertThat(r.err).contains("kvserve: unknown model shape 'gpt-9'");
        r = run("synth", "--shape", "smollm2-135m", "--dim", "64", "--vocab", vocab.toString(), "--out", dir.resolve("x.gguf").toString());
        assertThat(r.err).contains("--dim cannot be combined with --shape");
        r = run("synth", "--dim", "64", "--vocab", vocab.toString(), "--out", dir.resolve("x.gguf").toString());
        assertThat(r.err).contains("give --shape NAME");
        r = run("synth", "--dim", "64", "--layers", "1", "--heads", "4", "--ffn", "64", "--type", "q9", "--vocab", vocab.toString(), "--out", dir.resolve("x.gguf").toString());
        assertThat(r.err).contains("unknown type 'q9'");
        assertThat(Files.exists(dir.resolve("x.gguf"))).isFalse();
    }
}
