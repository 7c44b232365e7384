package io.kvserve.engine;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Lower priority value first, then arrival. When the most urgent waiting request does not fit, running
 * sequences of a strictly worse priority are preempted (worst priority first, latest arrival first)
 * until it fits; if even all of them would not make room, nothing is preempted. A preempted sequence
 * keeps its priority and arrival, so it resumes ahead of later requests of its class.
 */
final class PriorityScheduler implements Scheduler {
    static final Comparator<SequenceView> URGENCY = Comparator.comparingInt(SequenceView::priority)
            .thenComparing(SequenceView::arrival).thenComparingLong(SequenceView::id);

    @Override
    public StepPlan plan(List<SequenceView> running, List<SequenceView> waiting, KvBudget budget) {
        List<SequenceView> order = new ArrayList<>(waiting);
        order.sort(URGENCY);
        int pages = budget.freePages(), slots = budget.freeSlots();
        List<Long> admit = new ArrayList<>(), preempt = new ArrayList<>();
        List<SequenceView> victims = new ArrayList<>(running);
        victims.sort(URGENCY.reversed());
        for (SequenceView s : order) {
            if (slots > 0 && s.pagesNeeded() <= pages) {
                admit.add(s.id());
                pages -= s.pagesNeeded();
                slots--;
                continue;
            }
            // make room from strictly less urgent running sequences, or stop here
            int p = pages, sl = slots;
            List<SequenceView> chosen = new ArrayList<>();
            for (SequenceView v : victims) {
                if (sl > 0 && p >= s.pagesNeeded()) break;
                if (v.priority() <= s.priority()) break;
                chosen.add(v);
                p += v.pagesNeeded();
                sl++;
            }
            if (sl > 0 && p >= s.pagesNeeded()) {
                for (SequenceView v : chosen) preempt.add(v.id());
                victims.removeAll(chosen);
                admit.add(s.id());
                pages = p - s.pagesNeeded();
                slots = sl - 1;
                continue;
            }
            break;
        }
        return new StepPlan(preempt, admit);
    }
}
