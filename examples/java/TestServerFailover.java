// A failover driven through zk-testserver's control endpoint, from plain
// Java with ZooKeeper's own client: what a JVM suite would do instead of
// curator-test's TestingCluster or a testcontainers ZooKeeper.
//
//   cargo build -p zk-testserver --bin zk-testserver
//   java -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-nop.jar \
//       examples/java/TestServerFailover.java target/debug/zk-testserver
//
// (Java 11+ runs the single source file directly.) Exits 0 and prints "ok"
// when the session survived the leader's death and every member converged
// on the data; any failure throws.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;

public class TestServerFailover {
    private static final HttpClient HTTP = HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(5)).build();

    static String call(String control, String method, String path) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create(control + path))
                .timeout(Duration.ofSeconds(30))
                .method(method, HttpRequest.BodyPublishers.noBody())
                .build();
        HttpResponse<String> response = HTTP.send(request, HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            throw new IllegalStateException(method + " " + path + " -> " + response.statusCode()
                    + " " + response.body());
        }
        return response.body();
    }

    static long field(String json, String name) {
        Matcher m = Pattern.compile("\"" + name + "\"\\s*:\\s*(\\d+)").matcher(json);
        if (!m.find()) {
            throw new IllegalStateException("no " + name + " in " + json);
        }
        return Long.parseLong(m.group(1));
    }

    /** Retries an operation through connection losses while the ensemble fails over. */
    interface Op<T> {
        T run() throws Exception;
    }

    static <T> T retry(Op<T> op) throws Exception {
        for (int attempt = 0; ; attempt++) {
            try {
                return op.run();
            } catch (KeeperException.ConnectionLossException e) {
                if (attempt >= 100) {
                    throw e;
                }
                Thread.sleep(100);
            }
        }
    }

    public static void main(String[] args) throws Exception {
        String bin = args.length > 0 ? args[0] : "target/debug/zk-testserver";
        Process server = new ProcessBuilder(bin, "--members", "3", "--tick-ms", "100",
                "--control", "127.0.0.1:0")
                .redirectError(ProcessBuilder.Redirect.DISCARD)
                .start();
        try {
            BufferedReader out = new BufferedReader(
                    new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
            String connect = out.readLine();
            String control = out.readLine().split(" ", 2)[1];

            CountDownLatch connected = new CountDownLatch(1);
            ZooKeeper zk = new ZooKeeper(connect, 4000, event -> {
                if (event.getState() == Watcher.Event.KeeperState.SyncConnected) {
                    connected.countDown();
                }
            });
            if (!connected.await(15, TimeUnit.SECONDS)) {
                throw new IllegalStateException("no connection to " + connect);
            }
            long session = zk.getSessionId();
            zk.create("/config", "v1".getBytes(StandardCharsets.UTF_8),
                    ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);

            long leader = field(call(control, "GET", "/status"), "leader");
            call(control, "POST", "/members/" + leader + "/kill");
            long next = field(call(control, "POST", "/wait/leader"), "leader");
            if (next == leader) {
                throw new IllegalStateException("the killed member still leads");
            }
            retry(() -> zk.setData("/config", "v2".getBytes(StandardCharsets.UTF_8), -1));
            call(control, "POST", "/members/" + leader + "/restart");
            call(control, "POST", "/wait/converged");

            byte[] data = retry(() -> {
                zk.sync("/config", (rc, path, ctx) -> { }, null);
                return zk.getData("/config", false, null);
            });
            if (!"v2".equals(new String(data, StandardCharsets.UTF_8))) {
                throw new IllegalStateException("lost the write: " + new String(data));
            }
            if (zk.getSessionId() != session) {
                throw new IllegalStateException("the session changed");
            }
            zk.close();
            System.out.println("ok: leader " + leader + " killed, " + next
                    + " took over, the session and the data survived");
        } finally {
            server.destroy();
            server.waitFor(30, TimeUnit.SECONDS);
        }
    }
}
