package zkrs.interop;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.queue.DistributedDelayQueue;
import org.apache.curator.framework.recipes.queue.DistributedIdQueue;
import org.apache.curator.framework.recipes.queue.DistributedPriorityQueue;
import org.apache.curator.framework.recipes.queue.DistributedQueue;
import org.apache.curator.framework.recipes.queue.QueueBuilder;
import org.apache.curator.framework.recipes.queue.QueueConsumer;
import org.apache.curator.framework.recipes.queue.QueueSerializer;
import org.apache.curator.framework.recipes.queue.SimpleDistributedQueue;
import org.apache.curator.framework.state.ConnectionState;

/**
 * DistributedQueue (also with a lock path: `locked-queue`), DistributedPriorityQueue, DistributedDelayQueue,
 * DistributedIdQueue and SimpleDistributedQueue. Directional runs (role producer or
 * consumer): one side puts {@link #ITEMS} items, the other takes them and checks bytes and order. Mixed runs:
 * 4 + 4 producers and 4 + 4 consumers; every item is taken exactly once, with its bytes.
 */
final class Queues {
    private Queues() {}

    static final int ITEMS = 12;

    static final QueueSerializer<byte[]> BYTES = new QueueSerializer<>() {
        @Override
        public byte[] serialize(byte[] item) {
            return item;
        }

        @Override
        public byte[] deserialize(byte[] bytes) {
            return bytes;
        }
    };

    /** The priority of item i (lower first); the same on both sides. */
    static int priority(int i) {
        return (i * 37) % 7 - 3;
    }

    /** The delay of item i (delay queue): later items are due earlier, so they come out reversed. */
    static long delayMs(int i) {
        return 300L + (ITEMS - i) * 40L;
    }

    /** The id item i is removed by before it is taken (id queue). */
    static final int REMOVED = 5;

    /** What a consumer must see, in order. */
    static List<byte[]> expected(String kind) {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < ITEMS; i++) {
            order.add(i);
        }
        if (kind.equals("priority-queue")) {
            order.sort(Comparator.comparingInt(Queues::priority)); // stable: FIFO within a priority
        }
        if (kind.equals("delay-queue")) {
            Collections.reverse(order);
        }
        if (kind.equals("id-queue")) {
            order.remove(Integer.valueOf(REMOVED));
        }
        List<byte[]> out = new ArrayList<>();
        for (int i : order) {
            out.add(Harness.item("p", i));
        }
        return out;
    }

    /** A consumer that hands items to a blocking queue. */
    static final class Collector implements QueueConsumer<byte[]> {
        final LinkedBlockingQueue<byte[]> items = new LinkedBlockingQueue<>();

        @Override
        public void consumeMessage(byte[] message) {
            items.add(message);
        }

        @Override
        public void stateChanged(CuratorFramework client, ConnectionState newState) {}
    }

    /** Puts into and takes from one of the three Curator queue kinds. */
    static final class AnyQueue implements AutoCloseable {
        final String kind;
        final Collector collector = new Collector();
        /** Due times count from here (one base for all items, so their order is fixed). */
        final long base = System.currentTimeMillis();
        DistributedQueue<byte[]> fifo;
        DistributedPriorityQueue<byte[]> prio;
        DistributedDelayQueue<byte[]> delay;
        DistributedIdQueue<byte[]> ids;
        SimpleDistributedQueue simple;

        AnyQueue(CuratorFramework c, String kind, String path, boolean consume) throws Exception {
            this.kind = kind;
            QueueBuilder<byte[]> b = QueueBuilder.builder(c, consume ? collector : null, BYTES, path);
            switch (kind) {
                case "queue" -> {
                    fifo = b.buildQueue();
                    fifo.start();
                }
                case "locked-queue" -> {
                    // Items stay until consumed, under an ephemeral lock `<path>-locks/<item>`.
                    fifo = b.lockPath(path + "-locks").buildQueue();
                    fifo.start();
                }
                case "priority-queue" -> {
                    prio = b.buildPriorityQueue(0);
                    prio.start();
                }
                case "delay-queue" -> {
                    delay = b.buildDelayQueue();
                    delay.start();
                }
                case "id-queue" -> {
                    ids = b.buildIdQueue();
                    ids.start();
                }
                case "simple-queue" -> simple = new SimpleDistributedQueue(c, path);
                default -> throw new IllegalArgumentException(kind);
            }
        }

        /** Puts item i (priority, delay and id derived from i). */
        void put(byte[] item, int i) throws Exception {
            switch (kind) {
                case "queue", "locked-queue" -> fifo.put(item);
                case "priority-queue" -> prio.put(item, priority(i));
                case "delay-queue" -> delay.put(item, base + delayMs(i));
                case "id-queue" -> ids.put(item, "id-" + i);
                default -> simple.offer(item);
            }
        }

        byte[] take(long ms) throws Exception {
            return simple != null ? simple.poll(ms, TimeUnit.MILLISECONDS) : collector.items.poll(ms, TimeUnit.MILLISECONDS);
        }

        @Override
        public void close() throws java.io.IOException {
            if (fifo != null) {
                fifo.close();
            }
            if (prio != null) {
                prio.close();
            }
            if (delay != null) {
                delay.close();
            }
            if (ids != null) {
                ids.close();
            }
        }
    }

    static void run(Harness h, String kind, String phase) throws Exception {
        CuratorFramework c = h.newClient();
        if (phase.equals("layout")) {
            String root = h.layoutRoot(c);
            try (AnyQueue q = new AnyQueue(c, kind, root + "/app/queue", false)) {
                q.put(Harness.item("p", 1), 1);
                h.dump(c, root);
            }
            try (AnyQueue q = new AnyQueue(c, kind, root + "/app/queue", true)) {
                byte[] got = q.take(30000);
                h.check(got != null && Arrays.equals(got, Harness.item("p", 1)), "layout item not taken back");
            }
            h.dumpAfterReaping(c, root);
            return;
        }
        if (phase.equals("mixed")) {
            mixed(h, c, kind);
            return;
        }
        if (h.role.equals("producer")) {
            try (AnyQueue q = new AnyQueue(c, kind, h.path("queue"), false)) {
                for (int i = 0; i < ITEMS; i++) {
                    q.put(Harness.item("p", i), i);
                }
                if (q.ids != null) {
                    h.check(q.ids.remove("id-" + REMOVED) == 1, "id-" + REMOVED + " not removed");
                }
            }
            h.gate(c, "produced");
            h.gate(c, "consumed");
            return;
        }
        h.gate(c, "produced");
        List<byte[]> want = expected(kind);
        try (AnyQueue q = new AnyQueue(c, kind, h.path("queue"), true)) {
            for (int i = 0; i < want.size(); i++) {
                byte[] got = q.take(30000);
                if (got == null) {
                    h.violation(kind + ": item " + i + " never arrived");
                    break;
                }
                h.check(Arrays.equals(got, want.get(i)), kind + ": item " + i + " is " + Harness.show(got)
                        + ", expected " + Harness.show(want.get(i)));
            }
        }
        h.gate(c, "consumed");
    }

    /** 4 + 4 producers and consumers; each taken item is logged under `taken/` with its bytes. */
    static void mixed(Harness h, CuratorFramework first, String kind) throws Exception {
        int total = h.peers * h.contenders * h.rounds;
        h.gate(first, "start");
        Thread producers = new Thread(() -> {
            try {
                h.herd(k -> {
                    CuratorFramework c = h.newClient();
                    try (AnyQueue q = new AnyQueue(c, kind, h.path("queue"), false)) {
                        for (int i = 0; i < h.rounds; i++) {
                            q.put(Harness.item(h.side + "-" + k, i), i);
                        }
                    }
                });
            } catch (Exception e) {
                h.violation("producers: " + e);
            }
        });
        producers.start();
        h.herd(k -> {
            CuratorFramework c = h.newClient();
            try (AnyQueue q = new AnyQueue(c, kind, h.path("queue"), true)) {
                while (h.count(c, "taken") < total) {
                    byte[] got = q.take(100);
                    if (got != null) {
                        h.log(c, "taken", got);
                    }
                }
            }
        });
        producers.join();
        h.gate(first, "consumed");
        List<String> taken = new ArrayList<>();
        for (String child : first.getChildren().forPath(h.path("taken"))) {
            taken.add(Harness.show(first.getData().forPath(h.path("taken/" + child))));
        }
        List<String> want = new ArrayList<>();
        for (String side : new String[] {"java", "rust"}) {
            for (int k = 0; k < h.contenders; k++) {
                for (int i = 0; i < h.rounds; i++) {
                    want.add(Harness.show(Harness.item(side + "-" + k, i)));
                }
            }
        }
        Collections.sort(taken);
        Collections.sort(want);
        h.check(taken.equals(want), kind + ": taken items differ from the items put: " + taken.size() + " taken, "
                + want.size() + " put");
    }

}
