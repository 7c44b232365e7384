package io.kvserve.router.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RoutingDataLoaderTest {
    static RoutingDataset read(String text) throws IOException {
        return RoutingDataLoader.read(new StringReader(text), "t.jsonl", Map.of());
    }

    @Test
    void readsOutcomesAndCostsInFirstLineModelOrder() throws IOException {
        RoutingDataset d = read("""
                {"id":"a","prompt":"p1","task":"x","outcomes":{"m1":1,"m2":0},"costs":{"m1":2.0,"m2":0.5}}

                {"prompt":"p2","outcomes":{"m2":0.25,"m1":0.75},"costs":{"m2":1,"m1":3}}
                """);
        assertThat(d.models()).containsExactly("m1", "m2");
        assertThat(d.examples()).hasSize(2);
        RoutingExample b = d.examples().get(1);
        assertThat(b.id()).isEqualTo("line-3");
        assertThat(b.task()).isEmpty();
        assertThat(b.outcomes()).containsExactly(0.75, 0.25);
        assertThat(b.costs()).containsExactly(3.0, 1.0);
        assertThat(d.costSource()).isEqualTo("per-row costs");
        assertThat(d.modelIndex("m2")).isEqualTo(1);
        assertThatThrownBy(() -> d.modelIndex("gpt-9")).isInstanceOf(RoutingDataException.class).hasMessageContaining("unknown model 'gpt-9'");
    }

    @Test
    void pricesGiveATokenProxyCostAndUnitCostOtherwise() throws IOException {
        String line = "{\"prompt\":\"abcdefgh\",\"outcomes\":{\"a\":1,\"b\":0}}\n";
        RoutingDataset priced = RoutingDataLoader.read(new StringReader(line), "t", Map.of("a", 0.1, "b", 0.9));
        assertThat(priced.examples().getFirst().costs()[0]).isCloseTo(0.1 * 2 / 1e6, org.assertj.core.data.Offset.offset(1e-15));
        assertThat(priced.examples().getFirst().costs()[1]).isCloseTo(0.9 * 2 / 1e6, org.assertj.core.data.Offset.offset(1e-15));
        assertThat(read(line).examples().getFirst().costs()).containsExactly(1.0, 1.0);
        assertThat(read(line).costSource()).isEqualTo("unit cost");
    }

    @Test
    void siblingModelsFileIsPickedUp(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("set.jsonl");
        Files.writeString(f, "{\"prompt\":\"abcd\",\"outcomes\":{\"a\":1}}\n");
        Files.writeString(dir.resolve("set.models.json"), "[{\"model\":\"a\",\"input_price\":2.0}]");
        assertThat(RoutingDataLoader.load(f).examples().getFirst().costs()[0]).isEqualTo(2.0 / 1e6);
    }

    @Test
    void malformedInputSaysWhereAndWhat(@TempDir Path dir) {
        assertThatThrownBy(() -> read("{\"prompt\":\"p\",\"outcomes\":{\"a\":1}}\n{not json\n"))
                .isInstanceOf(RoutingDataException.class).hasMessageStartingWith("t.jsonl:2: not a JSON object");
        assertThatThrownBy(() -> read("{\"outcomes\":{\"a\":1}}\n")).hasMessageContaining("t.jsonl:1: missing string field 'prompt'");
        assertThatThrownBy(() -> read("{\"prompt\":\"p\"}\n")).hasMessageContaining("missing object field 'outcomes'");
        assertThatThrownBy(() -> read("{\"prompt\":\"p\",\"outcomes\":{\"a\":\"high\"}}\n")).hasMessageContaining("outcome of 'a' is \"high\"");
        assertThatThrownBy(() -> read("{\"prompt\":\"p\",\"outcomes\":{\"a\":1}}\n{\"prompt\":\"q\",\"outcomes\":{\"b\":1}}\n"))
                .hasMessageContaining("t.jsonl:2").hasMessageContaining("same model set");
        assertThatThrownBy(() -> read("{\"prompt\":\"p\",\"outcomes\":{\"a\":1},\"costs\":{\"a\":-1}}\n")).hasMessageContaining("cost of 'a'");
        assertThatThrownBy(() -> read("\n\n")).hasMessageContaining("no rows");
        assertThatThrownBy(() -> RoutingDataLoader.load(dir.resolve("missing.jsonl"))).hasMessageContaining("does not exist");
    }
}
