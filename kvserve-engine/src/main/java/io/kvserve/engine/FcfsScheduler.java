package io.kvserve.engine;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** First come, first served, by arrival; the first request that does not fit waits and blocks the rest. */
final class FcfsScheduler implements Scheduler {
    static final Comparator<SequenceView> BY_ARRIVAL = Comparator.comparing(SequenceView::arrival).thenComparingLong(SequenceView::id);

    @Override
    public StepPlan plan(List<SequenceView> running, List<SequenceView> waiting, KvBudget budget) {
        List<SequenceView> order = new ArrayList<>(waiting);
        order.sort(BY_ARRIVAL);
        return StepPlan.admitOnly(admitWhileFits(order, budget.freePages(), budget.freeSlots()));
    }

    static List<Long> admitWhileFits(List<SequenceView> order, int freePages, int freeSlots) {
        List<Long> admit = new ArrayList<>();
        for (SequenceView s : order) {
            if (freeSlots == 0 || s.pagesNeeded() > freePages) break;
            admit.add(s.id());
            freePages -= s.pagesNeeded();
            freeSlots--;
        }
        return admit;
    }
}
