package zkrs.interop;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;

/**
 * What every scenario shares, mirrored by the Rust side (examples/src/interop/harness.rs): sessions,
 * the start gate, the event log, exclusion markers, the layout dump and the item generator.
 */
final class Harness {
    final String connect;
    final String ns;
    final String side;
    final int contenders;
    final int rounds;
    final int peers;
    final String role;
    private final List<String> violations = Collections.synchronizedList(new ArrayList<>());
    private final List<CuratorFramework> clients = Collections.synchronizedList(new ArrayList<>());

    Harness(String connect, String ns, String side, int contenders, int rounds, int peers, String role) {
        this.connect = connect;
        this.ns = ns;
        this.side = side;
        this.contenders = contenders;
        this.rounds = rounds;
        this.peers = peers;
        this.role = role;
    }

    /** A new session (one per contender, so contenders are independent ZooKeeper clients). */
    CuratorFramework newClient() throws Exception {
        CuratorFramework c = CuratorFrameworkFactory.builder()
                .connectString(connect)
                .sessionTimeoutMs(10000)
                .connectionTimeoutMs(10000)
                .retryPolicy(new ExponentialBackoffRetry(20, 10, 500))
                .build();
        c.start();
        if (!c.blockUntilConnected(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("no connection to " + connect);
        }
        clients.add(c);
        return c;
    }

    void closeAll() {
        synchronized (clients) {
            for (CuratorFramework c : clients) {
                try {
                    c.close();
                } catch (RuntimeException ignored) {
                    // already closed (a killed contender)
                }
            }
        }
    }

    String path(String rel) {
        return ns + "/" + rel;
    }

    void violation(String what) {
        String line = "VIOLATION [" + side + "] " + what;
        System.out.println(line);
        violations.add(line);
    }

    boolean failed() {
        return !violations.isEmpty();
    }

    void check(boolean ok, String what) {
        if (!ok) {
            violation(what);
        }
    }

    /** Waits until `peers` sides have reached the gate `name`. */
    void gate(CuratorFramework c, String name) throws Exception {
        gateAs(c, name, side, peers);
    }

    /** Waits until `count` members (this one as `member`) have reached the gate `name`. */
    void gateAs(CuratorFramework c, String name, String member, int count) throws Exception {
        String dir = path("gates/" + name);
        try {
            c.create().creatingParentsIfNeeded().forPath(dir + "/" + member);
        } catch (KeeperException.NodeExistsException ignored) {
            // a restarted run
        }
        while (true) {
            CountDownLatch changed = new CountDownLatch(1);
            List<String> here = c.getChildren().usingWatcher((org.apache.zookeeper.Watcher) e -> changed.countDown())
                    .forPath(dir);
            if (here.size() >= count) {
                return;
            }
            changed.await(1, TimeUnit.SECONDS);
        }
    }

    /** Appends an entry to the scenario's event log (persistent sequential `log/e-`). */
    void log(CuratorFramework c, String entry) throws Exception {
        log(c, "log", entry.getBytes(StandardCharsets.UTF_8));
    }

    void log(CuratorFramework c, String dir, byte[] entry) throws Exception {
        c.create().creatingParentsIfNeeded().withMode(CreateMode.PERSISTENT_SEQUENTIAL)
                .forPath(path(dir + "/e-"), entry);
    }

    /** Creates `ns/rel` (and parents) as persistent nodes unless it exists. */
    void mkdirs(CuratorFramework c, String rel) throws Exception {
        try {
            c.create().creatingParentsIfNeeded().forPath(path(rel));
        } catch (KeeperException.NodeExistsException ignored) {
            // the other side made it
        }
    }

    /** Once both sides are done: the event log must hold `expected` entries. */
    void expectLog(CuratorFramework c, int expected) throws Exception {
        gate(c, "done");
        int n = count(c, "log");
        check(n == expected, "the event log has " + n + " entries, expected " + expected);
    }

    int count(CuratorFramework c, String dir) throws Exception {
        try {
            return c.getChildren().forPath(path(dir)).size();
        } catch (KeeperException.NoNodeException e) {
            return 0;
        }
    }

    /** Creates the exclusion marker `rel` as an ephemeral node; a marker already there is a violation. */
    void enter(CuratorFramework c, String rel, String who) throws Exception {
        try {
            c.create().withMode(CreateMode.EPHEMERAL).forPath(path(rel), who.getBytes(StandardCharsets.UTF_8));
        } catch (KeeperException.NodeExistsException e) {
            byte[] other = c.getData().forPath(path(rel));
            violation(who + " entered " + rel + " held by " + new String(other, StandardCharsets.UTF_8));
        }
    }

    void leave(CuratorFramework c, String rel) throws Exception {
        c.delete().forPath(path(rel));
    }

    static final Pattern PROTECTED = Pattern.compile("_c_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-");
    static final Pattern UUID = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
    static final Pattern SEQUENCE = Pattern.compile("[0-9-][0-9]{9}$");
    static final Pattern DUE_TIME = Pattern.compile("\\|[0-9A-F]{8,}\\|");

    /** A node name with its random and counting parts replaced, so both sides' layouts compare. */
    static String normalize(String name) {
        String n = PROTECTED.matcher(name).replaceAll("_c_<uuid>-");
        n = UUID.matcher(n).replaceAll("<uuid>");
        n = DUE_TIME.matcher(n).replaceAll("|<time>|");
        return SEQUENCE.matcher(n).replaceAll("<seq>");
    }

    /**
     * ZooKeeper shows containers and TTL nodes to clients with ephemeralOwner 0, like persistent nodes; what
     * tells them apart is that the server reaps them (see {@link #dumpAfterReaping}).
     */
    static String kind(Stat stat) {
        if (stat.getEphemeralOwner() != 0) {
            return "ephemeral";
        }
        // An empty container may be reaped at any moment: run.sh leaves these out of the "held" comparison
        // (the "after" listing still shows every persistent one).
        return stat.getNumChildren() == 0 ? "durable-empty" : "durable";
    }

    /** Prints `LAYOUT held <relative path> <kind>` for every node under `root` (not root itself). */
    void dump(CuratorFramework c, String root) throws Exception {
        dump(c, root, "held");
    }

    void dump(CuratorFramework c, String root, String when) throws Exception {
        TreeSet<String> lines = new TreeSet<>();
        walk(c, root, "", lines);
        for (String line : lines) {
            System.out.println("LAYOUT " + when + " " + line);
        }
    }

    /**
     * Once the recipe has let go of everything: waits until the server's container reaper has run passes
     * enough to remove every empty container (nested ones take a pass per level), then prints what is left
     * as `LAYOUT after ...`. A pass is observed with a canary: a container whose only child is deleted is
     * gone after the next pass, which therefore saw every container emptied before it.
     */
    void dumpAfterReaping(CuratorFramework c, String root) throws Exception {
        String canary = root + "-canary";
        TreeSet<String> before = null;
        int stable = 0;
        for (int pass = 0; pass < 12; pass++) {
            c.create().withMode(CreateMode.CONTAINER).forPath(canary);
            c.create().forPath(canary + "/c");
            c.delete().forPath(canary + "/c");
            long until = System.currentTimeMillis() + 30000;
            while (c.checkExists().forPath(canary) != null) {
                if (System.currentTimeMillis() > until) {
                    throw new IllegalStateException("the server never reaped the canary container " + canary);
                }
                sleepQuietly(20);
            }
            TreeSet<String> now = new TreeSet<>();
            walk(c, root, "", now);
            // The reaper deletes a pass's candidates in no particular order, so the canary may go before
            // another container of the same pass: the walk must stay the same over two further passes.
            stable = now.equals(before) ? stable + 1 : 0;
            if (stable == 2) {
                break;
            }
            before = now;
        }
        for (String line : before) {
            System.out.println("LAYOUT after " + line);
        }
    }

    private void walk(CuratorFramework c, String path, String rel, TreeSet<String> out) throws Exception {
        List<String> children;
        try {
            children = c.getChildren().forPath(path);
        } catch (KeeperException.NoNodeException e) {
            return;
        }
        for (String child : children) {
            String childPath = path + "/" + child;
            Stat stat = c.checkExists().forPath(childPath);
            if (stat == null) {
                continue;
            }
            String childRel = rel + "/" + normalize(child);
            out.add(childRel + " " + kind(stat));
            walk(c, childPath, childRel, out);
        }
    }

    /** The layout probe's root for this side: created persistent here, so that only what a recipe creates shows. */
    String layoutRoot(CuratorFramework c) throws Exception {
        String root = path("layout/" + side);
        c.create().creatingParentsIfNeeded().forPath(root);
        return root;
    }

    /** Item `i` of producer `producer`: a text head and a binary tail (item 3 is empty). */
    static byte[] item(String producer, int i) {
        if (i == 3) {
            return new byte[0];
        }
        byte[] head = (producer + "-" + i + ":").getBytes(StandardCharsets.UTF_8);
        int tail = (i * 7) % 50;
        byte[] out = new byte[head.length + tail];
        System.arraycopy(head, 0, out, 0, head.length);
        for (int k = 0; k < tail; k++) {
            out[head.length + k] = (byte) (i + k * 31);
        }
        return out;
    }

    static String show(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) {
            s.append(String.format("%02x", x & 0xff));
        }
        return s.toString();
    }

    static void sleepQuietly(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Runs `task(k)` for k in 0..contenders on their own threads and waits for all. */
    void herd(ContenderTask task) throws Exception {
        List<Thread> threads = new ArrayList<>();
        AtomicInteger errors = new AtomicInteger();
        for (int k = 0; k < contenders; k++) {
            final int id = k;
            Thread t = new Thread(() -> {
                try {
                    task.run(id);
                } catch (Throwable e) {
                    errors.incrementAndGet();
                    violation("contender " + id + " failed: " + e);
                    e.printStackTrace();
                }
            }, side + "-" + k);
            t.start();
            threads.add(t);
        }
        for (Thread t : threads) {
            t.join();
        }
    }

    interface ContenderTask {
        void run(int id) throws Exception;
    }
}
