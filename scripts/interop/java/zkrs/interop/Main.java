package zkrs.interop;

import java.util.HashMap;
import java.util.Map;

/**
 * The Curator side of the interop suite (scripts/interop/run.sh). One scenario phase per run:
 *
 * <pre>
 *   java zkrs.interop.Main --connect HOSTS --ns /interop/x/mutex --side java --scenario mutex --phase mixed
 *        [--contenders 4] [--rounds 3] [--peers 2] [--role R] [--deadline-s 120]
 * </pre>
 *
 * <p>Prints {@code LAYOUT <path> <kind>} lines (layout phase), {@code VIOLATION ...} lines and finally
 * {@code OK} or {@code FAILED}; exits 0 only if nothing was violated.
 */
public final class Main {
    private Main() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!args[i].startsWith("--")) {
                throw new IllegalArgumentException("unexpected argument " + args[i]);
            }
            a.put(args[i].substring(2), args[i + 1]);
        }
        String scenario = a.get("scenario");
        String phase = a.getOrDefault("phase", "mixed");
        Harness h = new Harness(
                required(a, "connect"),
                required(a, "ns"),
                a.getOrDefault("side", "java"),
                Integer.parseInt(a.getOrDefault("contenders", "4")),
                Integer.parseInt(a.getOrDefault("rounds", "3")),
                Integer.parseInt(a.getOrDefault("peers", "2")),
                a.getOrDefault("role", ""));
        long deadline = Long.parseLong(a.getOrDefault("deadline-s", "120"));
        Thread watchdog = new Thread(() -> {
            Harness.sleepQuietly(deadline * 1000);
            System.out.println("VIOLATION [" + h.side + "] " + scenario + "/" + phase + " still running after " + deadline + "s");
            Runtime.getRuntime().halt(3);
        });
        watchdog.setDaemon(true);
        watchdog.start();
        int rc;
        try {
            run(h, scenario, phase);
            rc = h.failed() ? 1 : 0;
        } catch (Throwable e) {
            e.printStackTrace();
            h.violation(scenario + "/" + phase + " failed: " + e);
            rc = 1;
        }
        h.closeAll();
        System.out.println(rc == 0 ? "OK" : "FAILED");
        System.out.flush();
        Runtime.getRuntime().halt(rc);
    }

    static String required(Map<String, String> a, String key) {
        String v = a.get(key);
        if (v == null) {
            throw new IllegalArgumentException("--" + key + " is required");
        }
        return v;
    }

    static void run(Harness h, String scenario, String phase) throws Exception {
        switch (scenario) {
            case "mutex" -> Locks.mutex(h, phase);
            case "semaphore" -> Locks.semaphore(h, phase, false);
            case "semaphore-mutex" -> Locks.semaphore(h, phase, true);
            case "rwlock" -> Locks.rwlock(h, phase);
            case "multilock" -> Locks.multilock(h, phase);
            case "reentrant-mutex" -> Locks.reentrant(h, phase);
            case "revocation" -> Locks.revocation(h, phase);
            case "leader-latch" -> Leaders.latch(h, phase);
            case "leader-selector" -> Leaders.selector(h, phase);
            case "discovery" -> Discovery.run(h, phase);
            case "persistent-node" -> Nodes.run(h, phase);
            case "queue", "locked-queue", "priority-queue", "simple-queue", "delay-queue", "id-queue" ->
                Queues.run(h, scenario, phase);
            case "barrier" -> Coordination.barrier(h, phase);
            case "double-barrier" -> Coordination.doubleBarrier(h, phase);
            case "shared-count" -> Coordination.sharedCount(h, phase);
            case "shared-value" -> Coordination.sharedValue(h, phase);
            case "atomic-long" -> Coordination.atomic(h, phase);
            case "group-member" -> Coordination.groupMember(h, phase);
            case "node-cache", "path-cache", "tree-cache", "tree-cache-one-shot" -> Caches.run(h, scenario, phase);
            default -> throw new IllegalArgumentException("unknown scenario " + scenario);
        }
    }
}
