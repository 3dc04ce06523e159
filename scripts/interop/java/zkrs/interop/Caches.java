package zkrs.interop;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.NodeCache;
import org.apache.curator.framework.recipes.cache.PathChildrenCache;
import org.apache.zookeeper.KeeperException;

/**
 * Node cache, path children cache and tree cache (CuratorCache) seeing the other side's writes. Directional:
 * the writer makes change i and waits for the reader's acknowledgement `acks/a<i>`, which the reader creates
 * once its cache shows change i.
 */
final class Caches {
    private Caches() {}

    static final int CHANGES = 5;

    static byte[] value(int i) {
        return ("v" + i).getBytes(StandardCharsets.UTF_8);
    }

    /** The nodes change i writes, relative to the namespace. */
    static String[] paths(String kind, int i) {
        return switch (kind) {
            case "node-cache" -> new String[] {"node"};
            case "path-cache" -> new String[] {"dir/c" + i};
            default -> new String[] {"tree/a" + i, "tree/a" + i + "/b"};
        };
    }

    static void run(Harness h, String kind, String phase) throws Exception {
        CuratorFramework c = h.newClient();
        if (h.role.equals("writer")) {
            h.gate(c, "ready");
            for (int i = 0; i < CHANGES; i++) {
                for (String rel : paths(kind, i)) {
                    try {
                        c.create().creatingParentsIfNeeded().forPath(h.path(rel), value(i));
                    } catch (KeeperException.NodeExistsException e) {
                        c.setData().forPath(h.path(rel), value(i));
                    }
                }
                waitFor(h, c, "acks/a" + i);
            }
            h.gate(c, "done");
            return;
        }
        Reader reader = new Reader(c, h, kind);
        h.gate(c, "ready");
        for (int i = 0; i < CHANGES; i++) {
            long until = System.currentTimeMillis() + 30000;
            while (!reader.sees(i)) {
                if (System.currentTimeMillis() > until) {
                    h.violation(kind + " never showed change " + i);
                    break;
                }
                Harness.sleepQuietly(10);
            }
            h.mkdirs(c, "acks/a" + i);
        }
        h.gate(c, "done");
        reader.close();
    }

    static void waitFor(Harness h, CuratorFramework c, String rel) throws Exception {
        long until = System.currentTimeMillis() + 30000;
        while (c.checkExists().forPath(h.path(rel)) == null) {
            if (System.currentTimeMillis() > until) {
                h.violation("no acknowledgement " + rel);
                return;
            }
            Harness.sleepQuietly(10);
        }
    }

    /** One of Curator's caches (NodeCache and PathChildrenCache are deprecated in Curator 5, still used). */
    @SuppressWarnings("deprecation")
    static final class Reader {
        final Harness h;
        final String kind;
        NodeCache node;
        PathChildrenCache children;
        CuratorCache tree;

        Reader(CuratorFramework c, Harness h, String kind) throws Exception {
            this.h = h;
            this.kind = kind;
            switch (kind) {
                case "node-cache" -> {
                    node = new NodeCache(c, h.path("node"));
                    node.start(true);
                }
                case "path-cache" -> {
                    children = new PathChildrenCache(c, h.path("dir"), true);
                    children.start(PathChildrenCache.StartMode.BUILD_INITIAL_CACHE);
                }
                default -> {
                    tree = CuratorCache.build(c, h.path("tree"));
                    tree.start();
                }
            }
        }

        boolean sees(int i) {
            for (String rel : paths(kind, i)) {
                String path = h.path(rel);
                ChildData d = switch (kind) {
                    case "node-cache" -> node.getCurrentData();
                    case "path-cache" -> children.getCurrentData(path);
                    default -> tree.get(path).orElse(null);
                };
                if (d == null || !Arrays.equals(d.getData(), value(i))) {
                    return false;
                }
            }
            return true;
        }

        void close() throws Exception {
            if (node != null) {
                node.close();
            }
            if (children != null) {
                children.close();
            }
            if (tree != null) {
                tree.close();
            }
        }
    }

}
