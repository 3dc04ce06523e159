package zkrs.interop;

import java.util.Arrays;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.locks.InterProcessMultiLock;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreMutex;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;
import org.apache.curator.framework.recipes.locks.Revoker;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.CreateMode;

/**
 * Mutex, semaphore (and the semaphore mutex), read/write lock and multi-lock: exclusion checked with ephemeral
 * markers.
 */
final class Locks {
    private Locks() {}

    static void hold() {
        Harness.sleepQuietly(ThreadLocalRandom.current().nextInt(2, 12));
    }

    static void mutex(Harness h, String phase) throws Exception {
        if (phase.equals("layout")) {
            CuratorFramework c = h.newClient();
            String root = h.layoutRoot(c);
            InterProcessMutex m = new InterProcessMutex(c, root + "/app/lock");
            m.acquire();
            h.dump(c, root);
            m.release();
            h.dumpAfterReaping(c, root);
            return;
        }
        CuratorFramework first = h.newClient();
        h.gate(first, "start");
        h.herd(k -> {
            CuratorFramework c = h.newClient();
            InterProcessMutex m = new InterProcessMutex(c, h.path("lock"));
            String who = h.side + "-" + k;
            for (int r = 0; r < h.rounds; r++) {
                m.acquire();
                h.enter(c, "held", who);
                h.log(c, who + " holds");
                hold();
                h.leave(c, "held");
                m.release();
            }
        });
        h.expectLog(first, h.peers * h.contenders * h.rounds);
    }

    /** Something held on a semaphore: a lease of InterProcessSemaphoreV2, or InterProcessSemaphoreMutex. */
    interface Held {
        void release() throws Exception;
    }

    /** Takes a lease at `path`: of 2 (semaphore), or of 1 through InterProcessSemaphoreMutex (mutex). */
    static Held lease(CuratorFramework c, String path, boolean mutex) throws Exception {
        if (mutex) {
            InterProcessSemaphoreMutex m = new InterProcessSemaphoreMutex(c, path);
            m.acquire();
            return m::release;
        }
        InterProcessSemaphoreV2 s = new InterProcessSemaphoreV2(c, path, 2);
        Lease lease = s.acquire();
        return () -> s.returnLease(lease);
    }

    /**
     * `semaphore`: 2 leases among 4 + 4 contenders; `semaphore-mutex` (mutex): InterProcessSemaphoreMutex, whose
     * twin is a zk-recipes Semaphore of 1 lease. More holders than leases is a violation.
     */
    static void semaphore(Harness h, String phase, boolean mutex) throws Exception {
        int max = mutex ? 1 : 2;
        if (phase.equals("layout")) {
            CuratorFramework c = h.newClient();
            String root = h.layoutRoot(c);
            Held held = lease(c, root + "/app/sem", mutex);
            h.dump(c, root);
            held.release();
            h.dumpAfterReaping(c, root);
            return;
        }
        CuratorFramework first = h.newClient();
        h.mkdirs(first, "holders");
        h.gate(first, "start");
        h.herd(k -> {
            CuratorFramework c = h.newClient();
            String who = h.side + "-" + k;
            for (int r = 0; r < h.rounds; r++) {
                Held held = lease(c, h.path("sem"), mutex);
                String marker = c.create().withMode(CreateMode.EPHEMERAL_SEQUENTIAL)
                        .forPath(h.path("holders/h-"), who.getBytes());
                int holders = c.getChildren().forPath(h.path("holders")).size();
                h.check(holders <= max, who + " sees " + holders + " lease holders (max " + max + ")");
                h.log(c, who + " leases");
                hold();
                c.delete().forPath(marker);
                held.release();
            }
        });
        h.expectLog(first, h.peers * h.contenders * h.rounds);
    }

    static void rwlock(Harness h, String phase) throws Exception {
        if (phase.equals("layout")) {
            CuratorFramework c = h.newClient();
            String root = h.layoutRoot(c);
            InterProcessReadWriteLock rw = new InterProcessReadWriteLock(c, root + "/app/rw");
            rw.writeLock().acquire();
            h.dump(c, root);
            rw.writeLock().release();
            rw.readLock().acquire();
            h.dump(c, root);
            rw.readLock().release();
            h.dumpAfterReaping(c, root);
            return;
        }
        CuratorFramework first = h.newClient();
        h.mkdirs(first, "readers");
        h.gate(first, "start");
        h.herd(k -> {
            CuratorFramework c = h.newClient();
            InterProcessReadWriteLock rw = new InterProcessReadWriteLock(c, h.path("rw"));
            String who = h.side + "-" + k;
            boolean writer = k % 2 == 0;
            for (int r = 0; r < h.rounds; r++) {
                if (writer) {
                    rw.writeLock().acquire();
                    h.enter(c, "writer", who);
                    int readers = c.getChildren().forPath(h.path("readers")).size();
                    h.check(readers == 0, who + " writes while " + readers + " read");
                    h.log(c, who + " writes");
                    hold();
                    h.leave(c, "writer");
                    rw.writeLock().release();
                } else {
                    rw.readLock().acquire();
                    String marker = c.create().withMode(CreateMode.EPHEMERAL_SEQUENTIAL)
                            .forPath(h.path("readers/r-"), who.getBytes());
                    h.check(c.checkExists().forPath(h.path("writer")) == null, who + " reads while a writer writes");
                    h.log(c, who + " reads");
                    hold();
                    c.delete().forPath(marker);
                    rw.readLock().release();
                }
            }
        });
        h.expectLog(first, h.peers * h.contenders * h.rounds);
    }

    static void multilock(Harness h, String phase) throws Exception {
        if (phase.equals("layout")) {
            CuratorFramework c = h.newClient();
            String root = h.layoutRoot(c);
            InterProcessMultiLock m = new InterProcessMultiLock(c, Arrays.asList(root + "/app/a", root + "/app/b"));
            m.acquire();
            h.dump(c, root);
            m.release();
            h.dumpAfterReaping(c, root);
            return;
        }
        CuratorFramework first = h.newClient();
        h.gate(first, "start");
        h.herd(k -> {
            CuratorFramework c = h.newClient();
            InterProcessMultiLock m = new InterProcessMultiLock(c, Arrays.asList(h.path("a"), h.path("b")));
            String who = h.side + "-" + k;
            for (int r = 0; r < h.rounds; r++) {
                m.acquire();
                h.enter(c, "held", who);
                h.log(c, who + " holds");
                hold();
                h.leave(c, "held");
                m.release();
            }
        });
        h.expectLog(first, h.peers * h.contenders * h.rounds);
    }

    /** Mixed: InterProcessMutex is re-entrant per thread; each contender takes it twice (one node only). */
    static void reentrant(Harness h, String phase) throws Exception {
        if (phase.equals("layout")) {
            CuratorFramework c = h.newClient();
            String root = h.layoutRoot(c);
            InterProcessMutex m = new InterProcessMutex(c, root + "/app/lock");
            m.acquire();
            m.acquire();
            h.dump(c, root);
            m.release();
            m.release();
            h.dumpAfterReaping(c, root);
            return;
        }
        CuratorFramework first = h.newClient();
        h.gate(first, "start");
        h.herd(k -> {
            CuratorFramework c = h.newClient();
            InterProcessMutex m = new InterProcessMutex(c, h.path("lock"));
            String who = h.side + "-" + k;
            for (int r = 0; r < h.rounds; r++) {
                m.acquire();
                h.enter(c, "held", who);
                m.acquire(); // re-entered
                h.log(c, who + " holds twice");
                hold();
                m.release();
                h.leave(c, "held");
                m.release();
            }
        });
        h.expectLog(first, h.peers * h.contenders * h.rounds);
    }

    /**
     * Directional: the holder takes the lock revocable and releases it when asked; the revoker asks (Curator's
     * Revoker) and then gets the lock.
     */
    static void revocation(Harness h, String phase) throws Exception {
        CuratorFramework c = h.newClient();
        String lockPath = h.path("lock");
        if (h.role.equals("holder")) {
            InterProcessMutex m = new InterProcessMutex(c, lockPath);
            CountDownLatch asked = new CountDownLatch(1);
            m.makeRevocable(lock -> asked.countDown());
            m.acquire();
            h.mkdirs(c, "held");
            h.check(asked.await(60, TimeUnit.SECONDS), "never asked to release");
            h.log(c, "holder released on request");
            m.release();
            h.gate(c, "done");
            return;
        }
        long until = System.currentTimeMillis() + 60000;
        while (c.checkExists().forPath(h.path("held")) == null && System.currentTimeMillis() < until) {
            Harness.sleepQuietly(10);
        }
        List<String> nodes = c.getChildren().forPath(lockPath);
        h.check(nodes.size() == 1, "lock nodes " + nodes);
        Revoker.attemptRevoke(c, lockPath + "/" + nodes.get(0));
        InterProcessMutex mine = new InterProcessMutex(c, lockPath);
        h.check(mine.acquire(60, TimeUnit.SECONDS), "the holder did not give the lock up");
        h.check(h.count(c, "log") == 1, "acquired before the holder released");
        mine.release();
        h.gate(c, "done");
    }
}
