package io.kvserve.router.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvserve.router.data.RoutingDataException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FleetPlacementTest {
    static final FleetConfig.RequestClass GOLD = new FleetConfig.RequestClass("gold", 10, 2, List.of("m"));
    static final FleetConfig.RequestClass BRONZE = new FleetConfig.RequestClass("default", 1, 0);

    static FleetPlacement fleet(int capA, int capB) {
        return new FleetPlacement(List.of(new FleetConfig.Backend("a", "http://127.0.0.1:1", List.of("m"), capA),
                new FleetConfig.Backend("b", "http://127.0.0.1:2", List.of("m", "n"), capB)), List.of(GOLD, BRONZE), 0, Clock.systemUTC());
    }

    @Test
    void reserveOfAHighPriorityClassHoldsWhileItIsIdle() {
        FleetPlacement p = fleet(1, 2); // 3 slots for model m, gold reserves 2
        assertThat(p.quota("gold", "a") + p.quota("gold", "b")).isEqualTo(2);
        assertThat(p.place("default", "m", "x", Set.of())).isInstanceOf(FleetPlacement.Admitted.class);
        // the only unreserved slot is taken: bronze is rejected although two slots are idle
        assertThat(p.place("default", "m", "y", Set.of())).isInstanceOf(FleetPlacement.Rejected.class);
        var g1 = p.place("gold", "m", "z", Set.of());
        var g2 = p.place("gold", "m", "w", Set.of());
        assertThat(g1).isInstanceOf(FleetPlacement.Admitted.class);
        assertThat(g2).isInstanceOf(FleetPlacement.Admitted.class);
        assertThat(((FleetPlacement.Admitted) g1).reserved()).isTrue();
        assertThat(p.place("gold", "m", "v", Set.of())).isInstanceOf(FleetPlacement.Rejected.class); // all 3 busy
        p.release((FleetPlacement.Admitted) g1);
        assertThat(p.inflight("a") + p.inflight("b")).isEqualTo(2);
    }

    @Test
    void aReservationHoldsForEveryModelItNamesNotForTheFleetAsAWhole() {
        // a serves only m, b serves only n; gold keeps one slot per model
        FleetConfig.RequestClass gold = new FleetConfig.RequestClass("gold", 10, 1);
        FleetPlacement p = new FleetPlacement(List.of(new FleetConfig.Backend("a", "http://h:1", List.of("m"), 2),
                new FleetConfig.Backend("b", "http://h:2", List.of("n"), 2)), List.of(gold, BRONZE), 0, Clock.systemUTC());
        assertThat(p.quota("gold", "m", "a")).isEqualTo(1);
        assertThat(p.quota("gold", "n", "b")).isEqualTo(1);
        assertThat(p.quota("gold", "m", "b")).isZero();
        // bronze fills what is not reserved, on both models
        assertThat(p.place("default", "m", "x", Set.of())).isInstanceOf(FleetPlacement.Admitted.class);
        assertThat(p.place("default", "m", "x", Set.of())).isInstanceOf(FleetPlacement.Rejected.class);
        assertThat(p.place("default", "n", "x", Set.of())).isInstanceOf(FleetPlacement.Admitted.class);
        assertThat(p.place("default", "n", "x", Set.of())).isInstanceOf(FleetPlacement.Rejected.class);
        // gold still gets a slot for each model
        assertThat(p.place("gold", "m", "x", Set.of())).isInstanceOfSatisfying(FleetPlacement.Admitted.class, a -> assertThat(a.reserved()).isTrue());
        assertThat(p.place("gold", "n", "x", Set.of())).isInstanceOfSatisfying(FleetPlacement.Admitted.class, a -> assertThat(a.reserved()).isTrue());
    }

    @Test
    void reserveModelsMustBeServedByTheFleet() {
        assertThatThrownBy(() -> new FleetConfig(null, 0, List.of(new FleetConfig.Backend("a", "http://h:1", List.of("m"), 2)),
                List.of(new FleetConfig.RequestClass("gold", 10, 1, List.of("zz"))), null, 0, 0, 0, 0, 0))
                .isInstanceOf(RoutingDataException.class).hasMessageContaining("reserve_models names 'zz'");
    }

    @Test
    void onlyBackendsServingTheModelAndAliveAreUsed() {
        FleetPlacement p = fleet(4, 4);
        var d = (FleetPlacement.Admitted) p.place("default", "n", "x", Set.of());
        assertThat(d.backend()).isEqualTo("b");
        p.setHealthy("b", false);
        assertThat(p.place("default", "n", "x", Set.of())).isInstanceOfSatisfying(FleetPlacement.Rejected.class,
                r -> assertThat(r.reason()).contains("no live backend serves model 'n'"));
        assertThat(((FleetPlacement.Admitted) p.place("gold", "m", "x", Set.of())).backend()).isEqualTo("a");
        assertThat(p.place("gold", "m", "x", Set.of("a"))).isInstanceOf(FleetPlacement.Rejected.class);
        assertThat(p.classOf("platinum")).isEqualTo("default");
    }

    @Test
    void prefixAffinityBreaksTiesTowardsTheBackendHoldingThePrefix() {
        FleetPlacement p = new FleetPlacement(List.of(new FleetConfig.Backend("a", "http://h:1", List.of("m"), 8),
                new FleetConfig.Backend("b", "http://h:2", List.of("m"), 8)), List.of(BRONZE), 0, Clock.systemUTC());
        String doc = "You are a careful assistant. ".repeat(40);
        var first = (FleetPlacement.Admitted) p.place("default", "m", doc + "question one", Set.of());
        p.release(first);
        // load the other backend less so that least-loaded alone would pick it... then check affinity wins
        for (int i = 0; i < 5; i++) {
            var d = (FleetPlacement.Admitted) p.place("default", "m", doc + "question " + i, Set.of());
            assertThat(d.backend()).isEqualTo(first.backend());
        }
        // a short unrelated prompt goes to the less loaded backend
        var other = (FleetPlacement.Admitted) p.place("default", "m", "hi", Set.of());
        assertThat(other.backend()).isNotEqualTo(first.backend());
    }

    @Test
    void badConfigFilesSayWhatIsWrong(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("c.json");
        Files.writeString(f, "{\"port\": 0, \"backends\": []}");
        assertThatThrownBy(() -> FleetConfig.load(f)).isInstanceOf(RoutingDataException.class).hasMessageContaining("'backends' is empty");
        Files.writeString(f, "{\"port\": 0, \"backends\": [{\"name\":\"a\",\"url\":\"ftp://x\",\"models\":[\"m\"],\"capacity\":1}]}");
        assertThatThrownBy(() -> FleetConfig.load(f)).hasMessageContaining("must be http(s)://host:port");
        Files.writeString(f, "{\"port\": 0, \"backends\": [{\"name\":\"a\",\"url\":\"http://x:1\",\"models\":[\"m\"],\"capacity\":0}]}");
        assertThatThrownBy(() -> FleetConfig.load(f)).hasMessageContaining("capacity 0 must be >= 1");
        Files.writeString(f, "{\"port\": 0, \"backend\": 3");
        assertThatThrownBy(() -> FleetConfig.load(f)).isInstanceOf(RoutingDataException.class).hasMessageStartingWith("config file " + f);
        assertThatThrownBy(() -> FleetConfig.load(dir.resolve("none.json"))).hasMessageContaining("does not exist");
    }
}
