package io.kvserve.router.data;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class GroupedSplitTest {
    static RoutingDataset data(int n, int copies) {
        List<RoutingExample> rows = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            for (int c = 0; c < copies; c++) {
                String text = c == 0 ? "prompt number " + i : "  PROMPT number " + i + " ";
                rows.add(new RoutingExample(i + "-" + c, text, "t", new double[] {c}, new double[] {1}));
            }
        }
        return new RoutingDataset(List.of("m"), rows, "unit");
    }

    static Set<String> keys(RoutingDataset d) {
        Set<String> s = new HashSet<>();
        for (RoutingExample e : d.examples()) s.add(GroupedSplit.groupKey(e.prompt()));
        return s;
    }

    @Test
    void copiesOfOneTextNeverStraddleParts() {
        GroupedSplit.Parts p = GroupedSplit.split(data(2000, 2), 0.7, 0.1, 7);
        assertThat(Collections.disjoint(keys(p.train()), keys(p.test()))).isTrue();
        assertThat(Collections.disjoint(keys(p.train()), keys(p.validation()))).isTrue();
        assertThat(Collections.disjoint(keys(p.validation()), keys(p.test()))).isTrue();
        assertThat(p.train().size() + p.validation().size() + p.test().size()).isEqualTo(4000);
        assertThat(p.train().size()).isBetween(2600, 3000);
        assertThat(p.validation().size()).isBetween(300, 500);
    }

    @Test
    void partDependsOnTextAndSeedNotOrder() {
        RoutingDataset d = data(500, 1);
        List<RoutingExample> shuffled = new ArrayList<>(d.examples());
        Collections.shuffle(shuffled, new java.util.Random(1));
        GroupedSplit.Parts a = GroupedSplit.split(d, 0.7, 0.1, 3);
        GroupedSplit.Parts b = GroupedSplit.split(d.subset(shuffled), 0.7, 0.1, 3);
        assertThat(keys(a.test())).isEqualTo(keys(b.test()));
        GroupedSplit.Parts c = GroupedSplit.split(d, 0.7, 0.1, 4);
        assertThat(keys(c.test())).isNotEqualTo(keys(a.test()));
    }

    @Test
    void foldsAreGroupedAndCoverAllFolds() {
        RoutingDataset d = data(300, 2);
        int[] counts = new int[5];
        for (RoutingExample e : d.examples()) counts[GroupedSplit.fold(e, 5, 9)]++;
        for (int c : counts) assertThat(c).isGreaterThan(60);
        for (int i = 0; i < d.size(); i += 2) {
            assertThat(GroupedSplit.fold(d.examples().get(i), 5, 9)).isEqualTo(GroupedSplit.fold(d.examples().get(i + 1), 5, 9));
        }
    }
}
