package io.kvserve.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** Records a request's events. */
final class CollectingSink implements TokenSink {
    final List<Integer> tokens = new ArrayList<>();
    final StringBuilder text = new StringBuilder();
    final CountDownLatch done = new CountDownLatch(1);
    volatile Completion completion;

    @Override
    public synchronized void onToken(GeneratedToken t) {
        tokens.add(t.token());
        text.append(t.text());
    }

    @Override
    public synchronized void onFinish(Completion c) {
        text.append(c.tail());
        completion = c;
        done.countDown();
    }

    boolean finished() {
        return completion != null;
    }

    Completion await() throws InterruptedException {
        if (!done.await(60, TimeUnit.SECONDS)) throw new AssertionError("request did not finish in 60 s");
        return completion;
    }
}
