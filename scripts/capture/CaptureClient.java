// Drives the official ZooKeeper Java client (3.8) through every client
// operation so that scripts/capture/relay.py can record the frames on the wire.
// Each step is announced on the relay's control port first, so the frames file
// shows which frames belong to which step.
//
// Usage: java CaptureClient <relay host:port> <server host:port> <control port> <4lw output dir>
//   relay   : the recording relay in front of the server (the session under capture)
//   server  : the server itself, for a helper session that changes nodes while the
//             captured client is disconnected, and for the four-letter words
//
// Compiled and run by scripts/capture/capture.sh.

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.Watcher.Event.EventType;
import org.apache.zookeeper.Watcher.Event.KeeperState;
import org.apache.zookeeper.ZooDefs.Ids;
import org.apache.zookeeper.ZooDefs.Perms;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

public class CaptureClient {
    static final int SESSION_TIMEOUT_MS = 30000;
    static final long WAIT_MS = 10000;
    static final byte[] DATA = "data".getBytes(StandardCharsets.UTF_8);

    static String relayAddress;
    static String serverAddress;
    static Control control;
    static Path fourLetterDir;

    /** Records every event a watcher receives; connection states go to a separate queue. */
    static final class Recorder implements Watcher {
        final String name;
        final LinkedBlockingQueue<WatchedEvent> events = new LinkedBlockingQueue<>();
        final LinkedBlockingQueue<KeeperState> states = new LinkedBlockingQueue<>();

        Recorder(String name) {
            this.name = name;
        }

        @Override
        public void process(WatchedEvent e) {
            System.out.println("  [" + name + " watcher] " + e);
            if (e.getType() == EventType.None) {
                states.add(e.getState());
            } else {
                events.add(e);
            }
        }

        void awaitState(KeeperState want) throws InterruptedException {
            long deadline = System.currentTimeMillis() + WAIT_MS;
            while (true) {
                KeeperState s = states.poll(Math.max(1, deadline - System.currentTimeMillis()), TimeUnit.MILLISECONDS);
                if (s == null) {
                    throw new IllegalStateException(name + ": no " + want + " state within " + WAIT_MS + " ms");
                }
                if (s == want) {
                    return;
                }
            }
        }

        void expectEvent(EventType type, String path) throws InterruptedException {
            WatchedEvent e = events.poll(WAIT_MS, TimeUnit.MILLISECONDS);
            if (e == null) {
                throw new IllegalStateException(name + ": no " + type + " " + path + " event");
            }
            if (e.getType() != type || !path.equals(e.getPath())) {
                throw new IllegalStateException(name + ": expected " + type + " " + path + ", got " + e);
            }
        }

        void expectNoEvent(long ms) throws InterruptedException {
            WatchedEvent e = events.poll(ms, TimeUnit.MILLISECONDS);
            if (e != null) {
                throw new IllegalStateException(name + ": unexpected event " + e);
            }
        }
    }

    /** Line protocol to the relay's control port. */
    static final class Control implements AutoCloseable {
        final Socket socket;
        final BufferedReader in;
        final PrintWriter out;

        Control(int port) throws IOException {
            socket = new Socket("127.0.0.1", port);
            in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            out = new PrintWriter(new OutputStreamWriter(socket.getOutputStream(), StandardCharsets.UTF_8), true);
        }

        void send(String line) throws IOException {
            out.println(line);
            String reply = in.readLine();
            if (!"ok".equals(reply)) {
                throw new IOException("relay control: '" + line + "' -> " + reply);
            }
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    static void step(String name, String text) throws IOException {
        System.out.println("== " + name + ": " + text);
        control.send("step " + name + " -- " + text);
    }

    static void note(String text) throws IOException {
        System.out.println("   " + text);
        control.send("note " + text);
    }

    interface Call {
        void run() throws Exception;
    }

    /** Run a call that must fail with the given code. */
    static void expectError(KeeperException.Code code, Call call) throws Exception {
        try {
            call.run();
        } catch (KeeperException e) {
            if (e.code() != code) {
                throw new IllegalStateException("expected " + code + ", got " + e.code(), e);
            }
            System.out.println("   (expected) " + e.code() + " " + e.getPath());
            return;
        }
        throw new IllegalStateException("expected " + code + ", the call succeeded");
    }

    static String stat(Stat s) {
        return s == null ? "null" : s.toString().trim().replace('\n', ' ');
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: CaptureClient <relay host:port> <server host:port> <control port> <4lw dir>");
            System.exit(2);
        }
        relayAddress = args[0];
        serverAddress = args[1];
        fourLetterDir = Paths.get(args[3]);
        try (Control c = new Control(Integer.parseInt(args[2]))) {
            control = c;
            run();
        }
        System.out.println("capture client: done");
    }

    static void run() throws Exception {
        // A helper session straight to the server (not recorded): changes nodes
        // while the captured client is disconnected.
        Recorder helperWatcher = new Recorder("helper");
        ZooKeeper helper = new ZooKeeper(serverAddress, SESSION_TIMEOUT_MS, helperWatcher);
        helperWatcher.awaitState(KeeperState.SyncConnected);

        Recorder w = new Recorder("main");

        step("connect", "new session: ConnectRequest(sessionId 0, lastZxidSeen 0, timeout "
                + SESSION_TIMEOUT_MS + ")");
        ZooKeeper zk = new ZooKeeper(relayAddress, SESSION_TIMEOUT_MS, w);
        w.awaitState(KeeperState.SyncConnected);
        long sessionId = zk.getSessionId();
        byte[] passwd = zk.getSessionPasswd();
        note(String.format("session 0x%x, negotiated timeout %d ms (requested %d)", sessionId,
                zk.getSessionTimeout(), SESSION_TIMEOUT_MS));

        // ----- create in every mode
        step("create-persistent", "create /cap PERSISTENT (opcode create)");
        zk.create("/cap", "root".getBytes(StandardCharsets.UTF_8), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);

        step("create2-persistent", "create /cap/p2 PERSISTENT with Stat (opcode create2)");
        Stat st = new Stat();
        zk.create("/cap/p2", DATA, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT, st);
        System.out.println("   stat " + stat(st));

        step("create-ephemeral", "create /cap/eph EPHEMERAL");
        zk.create("/cap/eph", DATA, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);

        step("create-sequential", "create /cap/seq- PERSISTENT_SEQUENTIAL");
        System.out.println("   -> " + zk.create("/cap/seq-", DATA, Ids.OPEN_ACL_UNSAFE,
                CreateMode.PERSISTENT_SEQUENTIAL));

        step("create-ephemeral-sequential", "create /cap/eseq- EPHEMERAL_SEQUENTIAL");
        System.out.println("   -> " + zk.create("/cap/eseq-", DATA, Ids.OPEN_ACL_UNSAFE,
                CreateMode.EPHEMERAL_SEQUENTIAL));

        step("create-container", "create /cap/container CONTAINER (opcode createContainer)");
        zk.create("/cap/container", DATA, Ids.OPEN_ACL_UNSAFE, CreateMode.CONTAINER);

        step("create-ttl", "create /cap/ttl PERSISTENT_WITH_TTL ttl=60000 (opcode createTTL)");
        st = new Stat();
        zk.create("/cap/ttl", DATA, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, st, 60000);
        System.out.println("   stat " + stat(st));

        step("create-ttl-sequential", "create /cap/ttlseq- PERSISTENT_SEQUENTIAL_WITH_TTL ttl=60000");
        System.out.println("   -> " + zk.create("/cap/ttlseq-", DATA, Ids.OPEN_ACL_UNSAFE,
                CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, new Stat(), 60000));

        step("create-null-data", "create /cap/null with null data (buffer length -1), then getData /cap/null");
        zk.create("/cap/null", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        st = new Stat();
        byte[] nullData = zk.getData("/cap/null", false, st);
        System.out.println("   -> " + (nullData == null ? "null" : nullData.length + " bytes") + " stat " + stat(st));

        // ----- create errors
        step("create-node-exists", "create /cap again: NodeExists (-110)");
        expectError(KeeperException.Code.NODEEXISTS,
                () -> zk.create("/cap", DATA, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT));

        step("create-no-parent", "create /cap/missing/child: NoNode (-101)");
        expectError(KeeperException.Code.NONODE,
                () -> zk.create("/cap/missing/child", DATA, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT));

        step("create-ephemeral-parent", "create /cap/eph/child: NoChildrenForEphemerals (-108)");
        expectError(KeeperException.Code.NOCHILDRENFOREPHEMERALS,
                () -> zk.create("/cap/eph/child", DATA, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT));

        step("create-creator-all-unauthenticated", "create with CREATOR_ALL_ACL before addAuth: InvalidACL (-114)");
        expectError(KeeperException.Code.INVALIDACL,
                () -> zk.create("/cap/creator-noauth", DATA, Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT));

        // ----- ACLs and auth
        String aliceDigest = DigestAuthenticationProvider.generateDigest("alice:secret");
        List<ACL> aliceOnly = Collections.singletonList(new ACL(Perms.ALL, new Id("digest", aliceDigest)));
        step("create-digest-acl", "create /cap/digest with ACL [ALL digest:" + aliceDigest + "]");
        zk.create("/cap/digest", DATA, aliceOnly, CreateMode.PERSISTENT);

        step("getData-noauth", "getData /cap/digest without auth: NoAuth (-102)");
        expectError(KeeperException.Code.NOAUTH, () -> zk.getData("/cap/digest", false, null));

        step("addAuth-digest", "addAuthInfo digest alice:secret (xid -4, opcode auth)");
        zk.addAuthInfo("digest", "alice:secret".getBytes(StandardCharsets.UTF_8));

        step("getData-authed", "getData /cap/digest as alice");
        System.out.println("   -> " + new String(zk.getData("/cap/digest", false, null), StandardCharsets.UTF_8));

        step("create-creator-all", "create /cap/creator with CREATOR_ALL_ACL as alice");
        zk.create("/cap/creator", DATA, Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT);

        step("getACL-creator", "getACL /cap/creator (auth id replaced by digest alice)");
        st = new Stat();
        System.out.println("   -> " + zk.getACL("/cap/creator", st) + " " + stat(st));

        // ----- reads
        step("getData", "getData /cap no watch");
        st = new Stat();
        zk.getData("/cap", false, st);
        System.out.println("   stat " + stat(st));

        step("exists", "exists /cap no watch");
        System.out.println("   stat " + stat(zk.exists("/cap", false)));

        step("exists-missing", "exists /cap/nope no watch: reply err NoNode (-101), API returns null");
        System.out.println("   -> " + zk.exists("/cap/nope", false));

        step("getData-missing", "getData /cap/nope: NoNode (-101)");
        expectError(KeeperException.Code.NONODE, () -> zk.getData("/cap/nope", false, null));

        step("getChildren", "getChildren /cap (opcode getChildren)");
        List<String> children = new ArrayList<>(zk.getChildren("/cap", false));
        Collections.sort(children);
        System.out.println("   -> " + children);

        step("getChildren2", "getChildren /cap with Stat (opcode getChildren2)");
        st = new Stat();
        zk.getChildren("/cap", false, st);
        System.out.println("   stat " + stat(st));

        step("getChildren-missing", "getChildren /cap/nope: NoNode (-101)");
        expectError(KeeperException.Code.NONODE, () -> zk.getChildren("/cap/nope", false));

        // ----- one-shot watches, one notification per event type
        step("watch-exists-created", "exists /cap/w watch=true (missing), then create /cap/w: NodeCreated");
        zk.exists("/cap/w", true);
        zk.create("/cap/w", DATA, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        w.expectEvent(EventType.NodeCreated, "/cap/w");

        step("watch-getData-changed", "getData /cap/w watch=true, then setData /cap/w: NodeDataChanged");
        zk.getData("/cap/w", true, null);
        zk.setData("/cap/w", "changed".getBytes(StandardCharsets.UTF_8), -1);
        w.expectEvent(EventType.NodeDataChanged, "/cap/w");

        step("watch-getChildren-changed", "getChildren /cap/w watch=true, then create /cap/w/c: NodeChildrenChanged");
        zk.getChildren("/cap/w", true);
        zk.create("/cap/w/c", DATA, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        w.expectEvent(EventType.NodeChildrenChanged, "/cap/w");

        step("watch-exists-deleted", "exists /cap/w/c watch=true, then delete /cap/w/c: NodeDeleted");
        zk.exists("/cap/w/c", true);
        zk.delete("/cap/w/c", -1);
        w.expectEvent(EventType.NodeDeleted, "/cap/w/c");

        // ----- setData
        step("setData", "setData /cap/w version 1");
        System.out.println("   stat " + stat(zk.setData("/cap/w", "v2".getBytes(StandardCharsets.UTF_8), 1)));

        step("setData-bad-version", "setData /cap/w version 7: BadVersion (-103)");
        expectError(KeeperException.Code.BADVERSION, () -> zk.setData("/cap/w", DATA, 7));

        step("setData-missing", "setData /cap/nope: NoNode (-101)");
        expectError(KeeperException.Code.NONODE, () -> zk.setData("/cap/nope", DATA, -1));

        // ----- ACL ops
        step("getACL", "getACL /cap/p2");
        st = new Stat();
        System.out.println("   -> " + zk.getACL("/cap/p2", st) + " " + stat(st));

        step("setACL", "setACL /cap/p2 [READ|WRITE|DELETE|ADMIN world:anyone] aversion 0");
        List<ACL> rwd = Collections.singletonList(
                new ACL(Perms.READ | Perms.WRITE | Perms.DELETE | Perms.ADMIN, Ids.ANYONE_ID_UNSAFE));
        System.out.println("   stat " + stat(zk.setACL("/cap/p2", rwd, 0)));

        step("setACL-bad-version", "setACL /cap/p2 aversion 0 again: BadVersion (-103)");
        expectError(KeeperException.Code.BADVERSION, () -> zk.setACL("/cap/p2", rwd, 0));

        // ----- delete
        step("delete-bad-version", "delete /cap/p2 version 5: BadVersion (-103)");
        expectError(KeeperException.Code.BADVERSION, () -> zk.delete("/cap/p2", 5));

        step("delete", "delete /cap/p2 version 0");
        zk.delete("/cap/p2", 0);

        step("delete-not-empty", "delete /cap: NotEmpty (-111)");
        expectError(KeeperException.Code.NOTEMPTY, () -> zk.delete("/cap", -1));

        step("delete-missing", "delete /cap/nope: NoNode (-101)");
        expectError(KeeperException.Code.NONODE, () -> zk.delete("/cap/nope", -1));

        // ----- sync
        step("sync", "sync /cap");
        CountDownLatch synced = new CountDownLatch(1);
        zk.sync("/cap", (rc, path, ctx) -> {
            System.out.println("   sync rc=" + rc + " path=" + path);
            synced.countDown();
        }, null);
        if (!synced.await(WAIT_MS, TimeUnit.MILLISECONDS)) {
            throw new IllegalStateException("no sync reply");
        }

        // ----- multi
        step("multi", "multi [create /cap/m, setData /cap/m, check /cap/m v1, create /cap/m/tmp, delete /cap/m/tmp]");
        List<OpResult> results = zk.multi(Arrays.asList(
                Op.create("/cap/m", DATA, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
                Op.setData("/cap/m", "m1".getBytes(StandardCharsets.UTF_8), 0),
                Op.check("/cap/m", 1),
                Op.create("/cap/m/tmp", DATA, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
                Op.delete("/cap/m/tmp", -1)));
        System.out.println("   -> " + results.size() + " results");

        step("multi-failed-check", "multi [create /cap/m2, check /cap/m v99 (fails), setData /cap/m]: nothing applied");
        try {
            zk.multi(Arrays.asList(
                    Op.create("/cap/m2", DATA, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
                    Op.check("/cap/m", 99),
                    Op.setData("/cap/m", DATA, -1)));
            throw new IllegalStateException("multi with a failing check succeeded");
        } catch (KeeperException e) {
            StringBuilder sb = new StringBuilder();
            for (OpResult r : e.getResults()) {
                sb.append(r instanceof OpResult.ErrorResult ? ((OpResult.ErrorResult) r).getErr() : r.getType())
                        .append(' ');
            }
            System.out.println("   (expected) " + e.code() + " results: " + sb);
        }

        step("multiRead", "multiRead [getChildren /cap, getData /cap/m, getData /cap/nope (NoNode)]");
        results = zk.multi(Arrays.asList(Op.getChildren("/cap"), Op.getData("/cap/m"), Op.getData("/cap/nope")));
        System.out.println("   -> " + results.size() + " results, last " + results.get(2).getClass().getSimpleName());

        // ----- session-wide queries
        step("getEphemerals", "getEphemerals (all of this session)");
        List<String> eph = new ArrayList<>(zk.getEphemerals());
        Collections.sort(eph);
        System.out.println("   -> " + eph);

        step("getEphemerals-prefix", "getEphemerals /cap/e");
        System.out.println("   -> " + zk.getEphemerals("/cap/e"));

        step("getAllChildrenNumber", "getAllChildrenNumber /cap");
        System.out.println("   -> " + zk.getAllChildrenNumber("/cap"));

        step("getAllChildrenNumber-root", "getAllChildrenNumber /");
        System.out.println("   -> " + zk.getAllChildrenNumber("/"));

        // ----- reconnect with the same session: SetWatches (standard watches only)
        step("reconnect-setWatches", "register data/exist/child watches, relay drops the connection, the helper "
                + "changes the nodes, client reconnects with its session id and lastZxidSeen: auth + setWatches "
                + "(opcode 101), notifications for what changed");
        zk.create("/cap/sw-data", DATA, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        zk.create("/cap/sw-children", DATA, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        zk.getData("/cap/sw-data", true, null);
        zk.exists("/cap/sw-missing", true);
        zk.getChildren("/cap/sw-children", true);
        disconnectAndChange(w, () -> {
            helper.setData("/cap/sw-data", "while-away".getBytes(StandardCharsets.UTF_8), -1);
            helper.create("/cap/sw-missing", DATA, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            helper.create("/cap/sw-children/x", DATA, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        });
        List<String> got = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            WatchedEvent e = w.events.poll(WAIT_MS, TimeUnit.MILLISECONDS);
            if (e == null) {
                throw new IllegalStateException("missing SetWatches notifications, got " + got);
            }
            got.add(e.getType() + " " + e.getPath());
        }
        Collections.sort(got);
        System.out.println("   notifications after reconnect: " + got);

        // ----- persistent watches
        step("addWatch-persistent", "addWatch /cap/pw PERSISTENT (node missing)");
        zk.addWatch("/cap/pw", AddWatchMode.PERSISTENT);

        step("addWatch-persistent-recursive", "addWatch /cap/rw PERSISTENT_RECURSIVE (node missing)");
        zk.addWatch("/cap/rw", AddWatchMode.PERSISTENT_RECURSIVE);

        step("persistent-events", "create /cap/pw, setData /cap/pw, create /cap/pw/c, delete /cap/pw/c: "
                + "NodeCreated, NodeDataChanged, NodeChildrenChanged, NodeChildrenChanged");
        zk.create("/cap/pw", DATA, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        w.expectEvent(EventType.NodeCreated, "/cap/pw");
        zk.setData("/cap/pw", "x".getBytes(StandardCharsets.UTF_8), -1);
        w.expectEvent(EventType.NodeDataChanged, "/cap/pw");
        zk.create("/cap/pw/c", DATA, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        w.expectEvent(EventType.NodeChildrenChanged, "/cap/pw");
        zk.delete("/cap/pw/c", -1);
        w.expectEvent(EventType.NodeChildrenChanged, "/cap/pw");

        step("persistent-recursive-events", "create /cap/rw, create /cap/rw/a, setData /cap/rw/a, delete /cap/rw/a: "
                + "NodeCreated x2, NodeDataChanged, NodeDeleted (no NodeChildrenChanged)");
        zk.create("/cap/rw", DATA, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        w.expectEvent(EventType.NodeCreated, "/cap/rw");
        zk.create("/cap/rw/a", DATA, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        w.expectEvent(EventType.NodeCreated, "/cap/rw/a");
        zk.setData("/cap/rw/a", "y".getBytes(StandardCharsets.UTF_8), -1);
        w.expectEvent(EventType.NodeDataChanged, "/cap/rw/a");
        zk.delete("/cap/rw/a", -1);
        w.expectEvent(EventType.NodeDeleted, "/cap/rw/a");

        // ----- reconnect with persistent watches: SetWatches2
        step("reconnect-setWatches2", "with persistent watches (and a data watch on /cap/sw-data), relay drops the "
                + "connection, the helper changes /cap/pw, /cap/rw/b and /cap/sw-data, client reconnects: "
                + "auth + setWatches2 (opcode 105)");
        zk.getData("/cap/sw-data", true, null);
        disconnectAndChange(w, () -> {
            helper.setData("/cap/pw", "away".getBytes(StandardCharsets.UTF_8), -1);
            helper.create("/cap/rw/b", DATA, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            helper.setData("/cap/sw-data", "away-again".getBytes(StandardCharsets.UTF_8), -1);
        });
        got.clear();
        WatchedEvent e;
        while ((e = w.events.poll(1000, TimeUnit.MILLISECONDS)) != null) {
            got.add(e.getType() + " " + e.getPath());
        }
        Collections.sort(got);
        note("notifications after the setWatches2 reconnect: " + got);

        step("persistent-still-active", "setData /cap/pw after the reconnect: NodeDataChanged (persistent watch "
                + "re-registered)");
        zk.setData("/cap/pw", "after".getBytes(StandardCharsets.UTF_8), -1);
        w.expectEvent(EventType.NodeDataChanged, "/cap/pw");

        // ----- removeWatches
        Recorder specific = new Recorder("specific");
        step("removeWatches-one-watcher", "getData /cap/m with a watcher object, removeWatches(that watcher, Data): "
                + "opcode checkWatches, which only checks: the server keeps its data watch");
        zk.getData("/cap/m", specific, null);
        zk.removeWatches("/cap/m", specific, Watcher.WatcherType.Data, false);
        specific.expectEvent(EventType.DataWatchRemoved, "/cap/m");

        step("checkWatches-left-server-watch", "setData /cap/m: the server still sends NodeDataChanged for the "
                + "watch checkWatches left in place (the Java client has no watcher left for it)");
        zk.setData("/cap/m", "m2".getBytes(StandardCharsets.UTF_8), -1);
        w.expectNoEvent(500);

        step("removeAllWatches-children", "getChildren /cap/m watch=true, removeAllWatches(Children) "
                + "(opcode removeWatches)");
        zk.getChildren("/cap/m", true);
        zk.removeAllWatches("/cap/m", Watcher.WatcherType.Children, false);
        w.expectEvent(EventType.ChildWatchRemoved, "/cap/m");

        step("removeAllWatches-persistent", "removeAllWatches(/cap/rw, Any) removes the persistent recursive watch");
        zk.removeAllWatches("/cap/rw", Watcher.WatcherType.Any, false);
        w.expectEvent(EventType.PersistentWatchRemoved, "/cap/rw");

        step("removeAllWatches-none", "removeAllWatches(/cap/m, Any) with no watch left: NoWatcher (-121) from "
                + "the server");
        expectError(KeeperException.Code.NOWATCHER,
                () -> zk.removeAllWatches("/cap/m", Watcher.WatcherType.Any, false));

        // ----- whoAmI, getConfig
        step("whoAmI", "whoAmI (opcode whoAmI, no request body)");
        List<ClientInfo> infos = zk.whoAmI();
        System.out.println("   -> " + infos);

        step("getConfig", "getConfig (getData /zookeeper/config)");
        st = new Stat();
        byte[] config = zk.getConfig(false, st);
        note("config on standalone: '" + new String(config, StandardCharsets.UTF_8).replace("\n", "\\n")
                + "' stat " + stat(st));

        // ----- ping
        int negotiated = zk.getSessionTimeout();
        long idle = negotiated * 2L / 3L;
        step("ping", "idle for " + idle + " ms (2/3 of the negotiated " + negotiated + " ms): the client pings "
                + "after 1/3 idle (xid -2, opcode ping)");
        Thread.sleep(idle);

        // ----- four-letter words, while this session is connected (seen by cons/stat)
        step("four-letter-words", "srvr mntr stat ruok conf envi cons isro straight to the server "
                + "(not through the relay), saved under 4lw/");
        Files.createDirectories(fourLetterDir);
        for (String word : new String[] {"srvr", "mntr", "stat", "ruok", "conf", "envi", "cons", "isro"}) {
            Files.write(fourLetterDir.resolve(word + ".txt"), fourLetterWord(serverAddress, word));
        }

        // ----- close
        step("close", "close the session (opcode closeSession)");
        zk.close();
        w.awaitState(KeeperState.Closed);

        // ----- reconnect to the closed session: expired
        step("reconnect-closed-session", "new client with the closed session's id and password: the server's "
                + "ConnectResponse has timeout 0 and session id 0, then it closes; the client reports Expired");
        Recorder expired = new Recorder("expired");
        ZooKeeper zk2 = new ZooKeeper(relayAddress, SESSION_TIMEOUT_MS, expired, sessionId, passwd);
        expired.awaitState(KeeperState.Expired);
        zk2.close();

        // ----- auth failure
        step("auth-failure", "new session, addAuthInfo with unknown scheme 'nosuchscheme': AuthFailed (-115) "
                + "and the server closes the connection");
        Recorder af = new Recorder("authfail");
        ZooKeeper zk3 = new ZooKeeper(relayAddress, SESSION_TIMEOUT_MS, af);
        af.awaitState(KeeperState.SyncConnected);
        zk3.addAuthInfo("nosuchscheme", "whatever".getBytes(StandardCharsets.UTF_8));
        af.awaitState(KeeperState.AuthFailed);
        zk3.close();

        // ----- session expiry while disconnected
        step("expired-session", "new session with an ephemeral node; the relay drops the connection and refuses "
                + "reconnects until the server has expired the session (the helper sees the ephemeral gone), then "
                + "the client reconnects: zero ConnectResponse, Expired");
        Recorder ex = new Recorder("expiring");
        ZooKeeper zk4 = new ZooKeeper(relayAddress, SESSION_TIMEOUT_MS, ex);
        ex.awaitState(KeeperState.SyncConnected);
        zk4.create("/cap/expiring", DATA, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
        control.send("refuse");
        control.send("drop");
        ex.awaitState(KeeperState.Disconnected);
        long gone = System.currentTimeMillis() + 4L * zk4.getSessionTimeout() + WAIT_MS;
        while (helper.exists("/cap/expiring", false) != null) {
            if (System.currentTimeMillis() > gone) {
                throw new IllegalStateException("session did not expire");
            }
            Thread.sleep(50);
        }
        note("the server expired the session (ephemeral /cap/expiring deleted); letting the client reconnect");
        control.send("resume");
        ex.awaitState(KeeperState.Expired);
        zk4.close();

        step("end", "capture finished");
        helper.close();
    }

    interface Change {
        void run() throws Exception;
    }

    /**
     * Pause the relay's accepting, drop the captured connection, wait until the
     * client noticed, let the helper change nodes, then let the client reconnect.
     */
    static void disconnectAndChange(Recorder w, Change change) throws Exception {
        control.send("pause");
        control.send("drop");
        w.awaitState(KeeperState.Disconnected);
        change.run();
        control.send("resume");
        w.awaitState(KeeperState.SyncConnected);
    }

    static byte[] fourLetterWord(String hostPort, String word) throws IOException {
        int colon = hostPort.lastIndexOf(':');
        try (Socket s = new Socket(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)))) {
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            out.write(word.getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            byte[] b = new byte[8192];
            int n;
            while ((n = in.read(b)) > 0) {
                buf.write(b, 0, n);
            }
            return buf.toByteArray();
        }
    }
}
