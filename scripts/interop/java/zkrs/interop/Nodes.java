package zkrs.interop;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.nodes.PersistentNode;
import org.apache.curator.framework.recipes.nodes.PersistentTtlNode;
import org.apache.zookeeper.CreateMode;

/** PersistentNode (ephemeral, and protected ephemeral sequential) and PersistentTtlNode: layouts. */
final class Nodes {
    private Nodes() {}

    static void run(Harness h, String phase) throws Exception {
        CuratorFramework c = h.newClient();
        String root = h.layoutRoot(c);
        byte[] data = "d".getBytes(StandardCharsets.UTF_8);
        PersistentNode plain = new PersistentNode(c, CreateMode.EPHEMERAL, false, root + "/app/nodes/plain", data);
        PersistentNode seq = new PersistentNode(c, CreateMode.EPHEMERAL_SEQUENTIAL, true, root + "/app/nodes/seq-", data);
        PersistentTtlNode ttl = new PersistentTtlNode(c, root + "/app/ttl/node", 60000, data);
        plain.start();
        seq.start();
        ttl.start();
        h.check(plain.waitForInitialCreate(30, TimeUnit.SECONDS), "plain node not created");
        h.check(seq.waitForInitialCreate(30, TimeUnit.SECONDS), "sequential node not created");
        h.check(ttl.waitForInitialCreate(30, TimeUnit.SECONDS), "TTL node not created");
        h.dump(c, root);
        plain.close();
        seq.close();
        ttl.close();
        // The TTL node outlives close by its TTL; removed here so the reaping pass shows the parents.
        c.delete().deletingChildrenIfNeeded().forPath(root + "/app/ttl/node");
        h.dumpAfterReaping(c, root);
    }
}
