package zkrs.interop;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.atomic.PromotedToLock;
import org.apache.curator.retry.RetryNTimes;
import org.apache.curator.framework.recipes.barriers.DistributedBarrier;
import org.apache.curator.framework.recipes.barriers.DistributedDoubleBarrier;
import org.apache.curator.framework.recipes.nodes.GroupMember;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.framework.recipes.shared.SharedValue;
import org.apache.curator.framework.recipes.shared.VersionedValue;

/** Barrier, double barrier, shared count and value, atomic long and group member. */
final class Coordination {
    private Coordination() {}

    /** Directional: the setter side sets and later removes the barrier; the waiter side's 4 contenders wait. */
    static void barrier(Harness h, String phase) throws Exception {
        CuratorFramework c = h.newClient();
        if (phase.equals("layout")) {
            String root = h.layoutRoot(c);
            DistributedBarrier b = new DistributedBarrier(c, root + "/app/barrier");
            b.setBarrier();
            h.dump(c, root);
            b.removeBarrier();
            h.dumpAfterReaping(c, root);
            return;
        }
        DistributedBarrier b = new DistributedBarrier(c, h.path("barrier"));
        if (h.role.equals("setter")) {
            b.setBarrier();
            h.gate(c, "set");
            long until = System.currentTimeMillis() + 60000;
            while (h.count(c, "log") < h.contenders && System.currentTimeMillis() < until) {
                Harness.sleepQuietly(20);
            }
            Harness.sleepQuietly(200);
            h.mkdirs(c, "removed");
            b.removeBarrier();
            h.gate(c, "done");
            return;
        }
        h.gate(c, "set");
        h.herd(k -> {
            CuratorFramework mine = h.newClient();
            DistributedBarrier waiting = new DistributedBarrier(mine, h.path("barrier"));
            h.log(mine, h.side + "-" + k + " waits");
            if (!waiting.waitOnBarrier(60, TimeUnit.SECONDS)) {
                h.violation(h.side + "-" + k + " still waiting after 60s");
            }
            h.check(mine.checkExists().forPath(h.path("removed")) != null,
                    h.side + "-" + k + " passed the barrier before it was removed");
        });
        h.gate(c, "done");
    }

    /** Mixed: 4 + 4 members of one double barrier; nobody passes enter (leave) before all entered (left). */
    static void doubleBarrier(Harness h, String phase) throws Exception {
        CuratorFramework first = h.newClient();
        if (phase.equals("layout")) {
            String root = h.layoutRoot(first);
            DistributedDoubleBarrier b = new DistributedDoubleBarrier(first, root + "/app/dbl", 1);
            b.enter();
            h.dump(first, root);
            b.leave();
            h.dumpAfterReaping(first, root);
            return;
        }
        int members = h.peers * h.contenders;
        h.gate(first, "start");
        h.herd(k -> {
            CuratorFramework c = h.newClient();
            String who = h.side + "-" + k;
            DistributedDoubleBarrier b = new DistributedDoubleBarrier(c, h.path("dbl"), members);
            h.log(c, "entering", who.getBytes(StandardCharsets.UTF_8));
            if (!b.enter(60, TimeUnit.SECONDS)) {
                h.violation(who + " could not enter within 60s");
                return;
            }
            int entered = h.count(c, "entering");
            h.check(entered == members, who + " entered when " + entered + " of " + members + " had arrived");
            h.log(c, "leaving", who.getBytes(StandardCharsets.UTF_8));
            if (!b.leave(60, TimeUnit.SECONDS)) {
                h.violation(who + " could not leave within 60s");
                return;
            }
            int left = h.count(c, "leaving");
            h.check(left == members, who + " left when " + left + " of " + members + " were leaving");
        });
    }

    /** Mixed: 4 + 4 contenders each add 1 `rounds` times with compare-and-set; the total must add up. */
    static void sharedCount(Harness h, String phase) throws Exception {
        CuratorFramework first = h.newClient();
        if (phase.equals("layout")) {
            String root = h.layoutRoot(first);
            SharedCount count = new SharedCount(first, root + "/app/count", 7);
            count.start();
            h.dump(first, root);
            count.close();
            first.delete().forPath(root + "/app/count");
            h.dumpAfterReaping(first, root);
            return;
        }
        h.gate(first, "start");
        h.herd(k -> {
            CuratorFramework c = h.newClient();
            SharedCount count = new SharedCount(c, h.path("count"), 0);
            count.start();
            for (int r = 0; r < h.rounds; r++) {
                while (true) {
                    VersionedValue<Integer> v = count.getVersionedValue();
                    if (count.trySetCount(v, v.getValue() + 1)) {
                        break;
                    }
                }
            }
            count.close();
        });
        h.gate(first, "done");
        byte[] raw = first.getData().forPath(h.path("count"));
        int total = java.nio.ByteBuffer.wrap(raw).getInt();
        h.check(raw.length == 4 && total == h.peers * h.contenders * h.rounds,
                "shared count is " + total + " (" + raw.length + " bytes), expected " + h.peers * h.contenders * h.rounds);
    }

    /**
     * `shared-value`: arbitrary bytes. Each contender appends its tokens with compare-and-set; in the end the value
     * holds every token of both sides exactly once.
     */
    static void sharedValue(Harness h, String phase) throws Exception {
        CuratorFramework first = h.newClient();
        if (phase.equals("layout")) {
            String root = h.layoutRoot(first);
            SharedValue value = new SharedValue(first, root + "/app/value", new byte[] {0, 's', (byte) 0xff});
            value.start();
            h.dump(first, root);
            value.close();
            first.delete().forPath(root + "/app/value");
            h.dumpAfterReaping(first, root);
            return;
        }
        h.gate(first, "start");
        h.herd(k -> {
            CuratorFramework c = h.newClient();
            SharedValue value = new SharedValue(c, h.path("value"), new byte[0]);
            value.start();
            for (int r = 0; r < h.rounds; r++) {
                byte[] token = (h.side + "-" + k + "-" + r + ";").getBytes(StandardCharsets.UTF_8);
                while (true) {
                    VersionedValue<byte[]> v = value.getVersionedValue();
                    byte[] next = Arrays.copyOf(v.getValue(), v.getValue().length + token.length);
                    System.arraycopy(token, 0, next, v.getValue().length, token.length);
                    if (value.trySetValue(v, next)) {
                        break;
                    }
                }
            }
            value.close();
        });
        h.gate(first, "done");
        String all = new String(first.getData().forPath(h.path("value")), StandardCharsets.UTF_8);
        List<String> got = new ArrayList<>(Arrays.asList(all.split(";")));
        Collections.sort(got);
        List<String> want = new ArrayList<>();
        for (String side : new String[] {"java", "rust"}) {
            for (int k = 0; k < h.contenders; k++) {
                for (int r = 0; r < h.rounds; r++) {
                    want.add(side + "-" + k + "-" + r);
                }
            }
        }
        Collections.sort(want);
        h.check(got.equals(want), "shared value holds " + got.size() + " tokens " + got + ", expected " + want.size());
    }

    /** Two optimistic tries, then promoted to the lock `atomic-lock` (20 tries under it). */
    static DistributedAtomicLong atomicLong(CuratorFramework c, String path, String lockPath) {
        return new DistributedAtomicLong(c, path, new RetryNTimes(1, 5),
                PromotedToLock.builder().lockPath(lockPath).timeout(30, TimeUnit.SECONDS)
                        .retryPolicy(new RetryNTimes(19, 5)).build());
    }

    /** Mixed: 4 + 4 contenders each increment `rounds` times; contention promotes some to the lock. */
    static void atomic(Harness h, String phase) throws Exception {
        CuratorFramework first = h.newClient();
        if (phase.equals("layout")) {
            String root = h.layoutRoot(first);
            DistributedAtomicLong n = atomicLong(first, root + "/app/n", root + "/app/n-lock");
            AtomicValue<Long> v = n.add(5L);
            h.check(v.succeeded() && v.postValue() == 5L, "layout add failed");
            h.dump(first, root);
            first.delete().forPath(root + "/app/n");
            h.dumpAfterReaping(first, root);
            return;
        }
        h.gate(first, "start");
        h.herd(k -> {
            CuratorFramework c = h.newClient();
            DistributedAtomicLong n = atomicLong(c, h.path("n"), h.path("n-lock"));
            for (int r = 0; r < h.rounds; r++) {
                while (!n.increment().succeeded()) {
                    Harness.sleepQuietly(1);
                }
            }
        });
        h.gate(first, "done");
        byte[] raw = first.getData().forPath(h.path("n"));
        long total = raw.length == 8 ? java.nio.ByteBuffer.wrap(raw).getLong() : -1;
        h.check(total == h.peers * h.contenders * h.rounds,
                "atomic long is " + total + " (" + raw.length + " bytes), expected " + h.peers * h.contenders * h.rounds);
    }

    /** Mixed: 4 + 4 group members; each sees all 8 with their payloads. */
    static void groupMember(Harness h, String phase) throws Exception {
        CuratorFramework first = h.newClient();
        if (phase.equals("layout")) {
            String root = h.layoutRoot(first);
            GroupMember m = new GroupMember(first, root + "/app/group", "m1", "p".getBytes(StandardCharsets.UTF_8));
            m.start();
            long until = System.currentTimeMillis() + 30000;
            while (first.checkExists().forPath(root + "/app/group/m1") == null && System.currentTimeMillis() < until) {
                Harness.sleepQuietly(10);
            }
            h.dump(first, root);
            m.close();
            h.dumpAfterReaping(first, root);
            return;
        }
        int members = h.peers * h.contenders;
        h.gate(first, "start");
        h.herd(k -> {
            CuratorFramework c = h.newClient();
            String who = h.side + "-" + k;
            GroupMember m = new GroupMember(c, h.path("group"), who, (who + " payload").getBytes(StandardCharsets.UTF_8));
            m.start();
            long until = System.currentTimeMillis() + 60000;
            Map<String, byte[]> seen = m.getCurrentMembers();
            while (!complete(seen, members) && System.currentTimeMillis() < until) {
                Harness.sleepQuietly(50);
                seen = m.getCurrentMembers();
            }
            h.check(complete(seen, members), who + " sees " + seen.keySet());
            h.gateAs(c, "seen", who, members);
            m.close();
        });
    }

    static boolean complete(Map<String, byte[]> seen, int members) {
        if (seen.size() != members) {
            return false;
        }
        for (Map.Entry<String, byte[]> e : seen.entrySet()) {
            if (!Arrays.equals(e.getValue(), (e.getKey() + " payload").getBytes(StandardCharsets.UTF_8))) {
                return false;
            }
        }
        return true;
    }
}
