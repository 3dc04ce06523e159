package zkrs.interop;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderSelector;
import org.apache.curator.framework.recipes.leader.LeaderSelectorListenerAdapter;

/**
 * Leader latch and leader selector with 4 + 4 contenders: every contender becomes leader once, marks its
 * leadership with an ephemeral marker (two leaders at once is a violation) and is then killed: its session
 * is closed without closing the recipe, as a crashed process would.
 */
final class Leaders {
    private Leaders() {}

    static void latch(Harness h, String phase) throws Exception {
        if (phase.equals("layout")) {
            CuratorFramework c = h.newClient();
            String root = h.layoutRoot(c);
            LeaderLatch latch = new LeaderLatch(c, root + "/app/latch", "layout-" + h.side);
            latch.start();
            latch.await();
            h.dump(c, root);
            latch.close();
            h.dumpAfterReaping(c, root);
            return;
        }
        CuratorFramework first = h.newClient();
        h.gate(first, "start");
        h.herd(k -> {
            CuratorFramework c = h.newClient();
            String who = h.side + "-" + k;
            LeaderLatch latch = new LeaderLatch(c, h.path("latch"), who);
            latch.start();
            if (!latch.await(120, TimeUnit.SECONDS)) {
                h.violation(who + " never became leader");
                return;
            }
            h.enter(c, "leader", who);
            h.log(c, who + " leads");
            Harness.sleepQuietly(30);
            c.close(); // killed while leading: the marker and the latch node go with the session
        });
        h.expectLog(first, h.peers * h.contenders);
    }

    static void selector(Harness h, String phase) throws Exception {
        if (phase.equals("layout")) {
            CuratorFramework c = h.newClient();
            String root = h.layoutRoot(c);
            CountDownLatch done = new CountDownLatch(1);
            LeaderSelector s = new LeaderSelector(c, root + "/app/sel", new LeaderSelectorListenerAdapter() {
                @Override
                public void takeLeadership(CuratorFramework client) throws Exception {
                    h.dump(client, root);
                    done.countDown();
                }
            });
            s.start();
            done.await();
            s.close();
            h.dumpAfterReaping(c, root);
            return;
        }
        CuratorFramework first = h.newClient();
        h.gate(first, "start");
        h.herd(k -> {
            CuratorFramework c = h.newClient();
            String who = h.side + "-" + k;
            boolean killed = k % 2 == 1;
            CountDownLatch led = new CountDownLatch(1);
            LeaderSelector s = new LeaderSelector(c, h.path("sel"), new LeaderSelectorListenerAdapter() {
                @Override
                public void takeLeadership(CuratorFramework client) throws Exception {
                    h.enter(client, "leader", who);
                    h.log(client, who + " leads");
                    Harness.sleepQuietly(30);
                    if (!killed) {
                        h.leave(client, "leader");
                    }
                    led.countDown();
                    if (killed) {
                        client.close(); // killed while leading
                        Thread.sleep(Long.MAX_VALUE);
                    }
                }
            });
            s.setId(who);
            s.start();
            if (!led.await(120, TimeUnit.SECONDS)) {
                h.violation(who + " never became leader");
            }
            if (!killed) {
                s.close();
            }
        });
        h.expectLog(first, h.peers * h.contenders);
    }
}
