//! Cancel safety of the test server's async API: every operation of
//! `Ensemble`, `EnsembleBuilder::start`, `FaultProxy` and `control::serve`
//! is dropped at each point where it waits (its first suspension, its
//! second, ... until a run finishes uncut), and after each drop the
//! ensemble must be consistent and working: a member is either running and
//! serving, or down, reported down and with its client port free; it can be
//! restarted; a client can write. Dropping an ensemble (or a proxy) frees
//! its ports at once and ends its threads.
//!
//! Which suspension points a run meets depends on timing (a lock free or
//! held, a reply already there or not); the checks after each drop hold
//! whatever the points were.
//!
//! The tests take turns ([`serial`]): they count the process's
//! `zk-testserver` and `zk-storage-*` threads, which another test's
//! ensemble would add to.

mod common;

use common::cluster::{builder, client, within};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard};
use zk_client::proto::OpCode;
use zk_client::{Client, ConnectionState, CreateMode};
use zk_testserver::proxy::{Fault, FaultProxy, Match};
use zk_testserver::Ensemble;

/// Fixed client ports for the start test (this suite's range: 26xxx), so a
/// dropped start's ports can be checked.
const START_PORT: u16 = 26_110;

/// Most suspension points any operation here may have before it must have
/// finished.
const MAX_CUTS: usize = 500;

/// One test at a time (they count threads).
async fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::const_new(());
    SERIAL.lock().await
}

/// What became of a future cut short.
enum Cut<T> {
    /// It finished before it was to be dropped.
    Done(T),
    /// It was dropped at a suspension point.
    Dropped,
}

/// Polls `fut` until it has suspended `skip` times, and drops it at its
/// next suspension; returns its output if it finishes first.
async fn cut_after<F: Future>(fut: F, skip: usize) -> Cut<F::Output> {
    let mut fut = pin!(fut);
    let mut left = skip;
    std::future::poll_fn(|cx| match fut.as_mut().poll(cx) {
        Poll::Ready(out) => Poll::Ready(Cut::Done(out)),
        Poll::Pending if left == 0 => Poll::Ready(Cut::Dropped),
        Poll::Pending => {
            left -= 1;
            Poll::Pending
        }
    })
    .await
}

/// Runs the operation `op` builds, dropping it at its first suspension,
/// then (a new run) at its second, and so on, until a run finishes uncut;
/// `check` runs after each. Returns how many runs were cut short.
async fn drop_at_each_await<T, Op, OpFut, Check, CheckFut>(
    what: &str,
    mut op: Op,
    mut check: Check,
) -> usize
where
    Op: FnMut() -> OpFut,
    OpFut: Future<Output = T>,
    Check: FnMut(Option<T>) -> CheckFut,
    CheckFut: Future<Output = ()>,
{
    for skip in 0..MAX_CUTS {
        match within(what, cut_after(op(), skip)).await {
            Cut::Done(out) => {
                check(Some(out)).await;
                eprintln!("{what}: dropped at {skip} suspension points, then finished");
                return skip;
            }
            Cut::Dropped => check(None).await,
        }
    }
    panic!("{what} did not finish within {MAX_CUTS} suspensions");
}

/// Once the operations on `member` under way have finished: running, it
/// serves; down, it is reported down and its client port is free. Returns
/// whether it runs.
async fn member_consistent(zk: &Ensemble, member: u64) -> bool {
    // Waits for a start or stop of the member that goes on in the
    // background.
    let running = within("is_running", zk.is_running(member)).await.unwrap();
    if running {
        within("serving", zk.wait_for_serving(member))
            .await
            .unwrap_or_else(|e| panic!("member {member} runs but does not serve: {e}"));
    } else {
        let status = zk.status(member).unwrap();
        assert!(
            !status.running,
            "member {member} is stopped but reported running: {status:?}"
        );
        let addr = zk.addr(member).unwrap();
        port_free(addr, &format!("stopped member {member}"));
    }
    running
}

fn port_free(addr: SocketAddr, whose: &str) {
    if let Err(e) = std::net::TcpListener::bind(addr) {
        panic!("the port {addr} of the {whose} is still held: {e}");
    }
}

/// A write through `client` is acknowledged (the client retries it across
/// a connection lost to a fault just injected).
async fn writes(client: &Client, tag: &str) {
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let path = format!("/{tag}-{}", WRITES.fetch_add(1, Ordering::Relaxed));
    match within("a write", client.create(&path, "", CreateMode::Persistent)).await {
        Ok(_) => {}
        // Applied by an attempt whose reply was lost.
        Err(e) if e.is_node_exists() && e.after_retry() => {}
        Err(e) => panic!("a write after {tag} failed: {e}"),
    }
}

/// Threads of ensembles in this process: their runtimes' workers and their
/// members' storage threads.
fn ensemble_threads() -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .filter(|name| name.starts_with("zk-testserver") || name.starts_with("zk-storage-"))
        .count()
}

/// Threads already joined can linger in `/proc` for the instant the kernel
/// takes to reap them: waits (briefly) for the count to come down.
async fn ensemble_threads_back_to(baseline: usize, whose: &str) {
    for _ in 0..2000 {
        if ensemble_threads() <= baseline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!(
        "{whose}: {} ensemble threads left, {baseline} before",
        ensemble_threads()
    );
}

/// After a kill or restart of `member` was cut short (or finished with
/// `done`): the member is consistent; if down, it is started again; then a
/// write goes through.
async fn settle(
    zk: &Ensemble,
    client: &Client,
    member: u64,
    done: Option<zk_testserver::ensemble::Result<()>>,
    tag: &str,
) {
    if let Some(done) = done {
        done.unwrap();
    }
    if !member_consistent(zk, member).await {
        zk.restart(member).await.unwrap();
        zk.wait_for_serving(member).await.unwrap();
    }
    writes(client, tag).await;
}

/// A replicated ensemble, a client of it, and a follower.
async fn three() -> (Ensemble, Client, u64) {
    let zk = builder(3).start().await.unwrap();
    let leader = zk.wait_for_quorum().await.unwrap();
    let follower = (1..=3).find(|&m| m != leader).unwrap();
    let client = client(&zk).await;
    (zk, client, follower)
}

#[tokio::test]
async fn kill_dropped_at_each_await_leaves_the_member_running_or_cleanly_down() {
    let _turn = serial().await;
    let (zk, client, member) = three().await;
    let (zk, client) = (&zk, &client);
    drop_at_each_await(
        "kill",
        move || zk.kill(member),
        move |done| settle(zk, client, member, done, "after-kill"),
    )
    .await;
}

#[tokio::test]
async fn restart_dropped_at_each_await_leaves_the_member_running_or_cleanly_down() {
    let _turn = serial().await;
    let (zk, client, member) = three().await;
    let (zk, client) = (&zk, &client);
    for wipe in [false, true] {
        drop_at_each_await(
            "restart",
            move || async move {
                if wipe {
                    zk.restart_wiped(member).await
                } else {
                    zk.restart(member).await
                }
            },
            move |done| settle(zk, client, member, done, "after-restart"),
        )
        .await;
    }
    let digest = zk.wait_until_converged().await.unwrap();
    assert_eq!(zk.digest(member).await.unwrap(), digest);
}

#[tokio::test]
async fn stop_dropped_at_each_await_stops_every_member_or_none() {
    let _turn = serial().await;
    let zk = builder(3).start().await.unwrap();
    let zk = &zk;
    drop_at_each_await(
        "stop",
        move || zk.stop(),
        move |_| async move {
            let mut running = Vec::new();
            for m in zk.members() {
                running.push(member_consistent(zk, m).await);
            }
            assert!(
                running.iter().all(|r| *r == running[0]),
                "a stop cut short stopped some members only: {running:?}"
            );
            if !running[0] {
                within("restart_all", zk.restart_all()).await.unwrap();
            }
            writes(&client(zk).await, "after-stop").await;
        },
    )
    .await;
}

#[tokio::test]
async fn restart_all_dropped_at_each_await_restarts_every_member() {
    let _turn = serial().await;
    let zk = builder(3).start().await.unwrap();
    let zk = &zk;
    let client = client(zk).await;
    let client = &client;
    drop_at_each_await(
        "restart_all",
        move || zk.restart_all(),
        move |done| async move {
            if let Some(done) = done {
                done.unwrap();
            }
            for m in zk.members() {
                assert!(
                    member_consistent(zk, m).await,
                    "a restart_all cut short left member {m} down"
                );
            }
            writes(client, "after-restart-all").await;
        },
    )
    .await;
}

#[tokio::test]
async fn start_dropped_at_each_await_frees_its_ports_and_threads() {
    let _turn = serial().await;
    let before = ensemble_threads();
    let start = || builder(3).port(START_PORT).start();
    let ports_free = || {
        for k in 0..3 {
            port_free(
                SocketAddr::from(([127, 0, 0, 1], START_PORT + k)),
                "dropped start",
            );
        }
    };
    let cuts = drop_at_each_await("start", start, move |started| async move {
        if let Some(started) = started {
            let zk = started.unwrap();
            writes(&client(&zk).await, "after-start").await;
            drop(zk);
        }
        ports_free();
        ensemble_threads_back_to(before, "dropped start").await;
    })
    .await;
    assert!(cuts >= 1, "start never waited");
}

#[tokio::test]
async fn dropping_an_ensemble_frees_its_ports_and_threads_at_once() {
    let _turn = serial().await;
    let before = ensemble_threads();
    // On disk, so each member has a storage thread (in memory it has none).
    let dir = std::env::temp_dir().join(format!("zk-ensemble-drop-{}", std::process::id()));
    let zk = builder(3)
        .admin_port(0)
        .data_dir(&dir)
        .start()
        .await
        .unwrap();
    let client = client(&zk).await;
    writes(&client, "before-drop").await;
    assert!(
        ensemble_threads() >= before + 2 + 3,
        "runtime and storage threads"
    );
    let mut ports: Vec<SocketAddr> = zk.addresses();
    ports.extend(zk.members().iter().filter_map(|&m| zk.admin_addr(m)));
    assert_eq!(ports.len(), 6);
    drop(zk);
    // No wait: the ports are free as soon as the drop returns.
    for addr in ports {
        port_free(addr, "dropped ensemble");
    }
    ensemble_threads_back_to(before, "dropped ensemble").await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn failpoints_dropped_at_each_await_are_set_or_not_and_the_member_serves() {
    use zk_testserver::failpoint::{Action, Failpoint};
    let _turn = serial().await;
    let (zk, client, member) = three().await;
    let (zk, client) = (&zk, &client);
    let point = Failpoint::BeforeAck;
    let pause = Action::Pause(Duration::from_millis(1));
    drop_at_each_await(
        "set_failpoint",
        move || zk.set_failpoint(member, point, pause),
        move |_| async move {
            assert!(member_consistent(zk, member).await);
            writes(client, "after-set-failpoint").await;
        },
    )
    .await;
    drop_at_each_await(
        "clear_failpoint",
        move || zk.clear_failpoint(member, point),
        move |_| async move {
            assert!(member_consistent(zk, member).await);
            writes(client, "after-clear-failpoint").await;
        },
    )
    .await;
}

#[tokio::test]
async fn connection_drops_dropped_at_each_await_leave_clients_working() {
    let _turn = serial().await;
    let (zk, client, member) = three().await;
    let (zk, client) = (&zk, &client);
    drop_at_each_await(
        "drop_client_connections",
        move || zk.drop_client_connections(member),
        move |_| async move {
            assert!(member_consistent(zk, member).await);
            writes(client, "after-drop-connections").await;
        },
    )
    .await;
    drop_at_each_await(
        "drop_all_client_connections",
        move || zk.drop_all_client_connections(),
        move |_| async move {
            for m in zk.members() {
                assert!(member_consistent(zk, m).await);
            }
            writes(client, "after-drop-all-connections").await;
        },
    )
    .await;
}

#[tokio::test]
async fn expire_session_dropped_after_sending_expires_the_session() {
    let _turn = serial().await;
    let (zk, _client, _) = three().await;
    let victim = Client::builder(zk.connect_string())
        .session_timeout(Duration::from_secs(4))
        .renew_session_on_expiry(false)
        .connect()
        .await
        .unwrap();
    victim
        .create("/victim", "", CreateMode::Ephemeral)
        .await
        .unwrap();
    // Its first suspension is the wait for the leader's answer: the
    // command has been sent.
    match cut_after(zk.expire_session(victim.session_id()), 0).await {
        Cut::Dropped => {}
        Cut::Done(done) => done.unwrap(),
    }
    within(
        "the session to expire",
        victim.wait_for_state(|s| s == ConnectionState::Lost),
    )
    .await;
    let other = client(&zk).await;
    assert!(other.exists("/victim").await.unwrap().is_none());
    writes(&other, "after-expire").await;
}

#[tokio::test]
async fn waits_and_reads_dropped_at_each_await_change_nothing() {
    let _turn = serial().await;
    let (zk, client, member) = three().await;
    let (zk, client) = (&zk, &client);
    let after = move || async move {
        for m in zk.members() {
            assert!(member_consistent(zk, m).await);
        }
        writes(client, "after-wait").await;
    };
    drop_at_each_await("wait_for_leader", move || zk.wait_for_leader(), |_| after()).await;
    drop_at_each_await("wait_for_quorum", move || zk.wait_for_quorum(), |_| after()).await;
    let serving = move || zk.wait_for_serving(member);
    drop_at_each_await("wait_for_serving", serving, |_| after()).await;
    drop_at_each_await("converged", move || zk.wait_until_converged(), |_| after()).await;
    drop_at_each_await("sessions", move || zk.sessions(), |_| after()).await;
    drop_at_each_await("last_zxid", move || zk.last_zxid(member), |_| after()).await;
    drop_at_each_await("view", move || zk.view(member), |_| after()).await;
    drop_at_each_await("digest", move || zk.digest(member), |_| after()).await;
    drop_at_each_await("is_running", move || zk.is_running(member), |_| after()).await;
    // A wait that cannot finish yet: dropped, it leaves nothing behind; the
    // next one sees the write it waited for.
    let target = zk.last_zxid(member).await.unwrap();
    let past = move |s: &[zk_testserver::MemberStatus]| s.iter().all(|s| s.last_zxid > target);
    assert!(matches!(
        cut_after(zk.wait_for_status("a later zxid", past), 0).await,
        Cut::Dropped
    ));
    writes(client, "the-write-waited-for").await;
    within("a later zxid", zk.wait_for_status("a later zxid", past))
        .await
        .unwrap();
}

#[tokio::test]
async fn dropping_a_fault_proxy_frees_its_port_at_once() {
    let _turn = serial().await;
    let zk = builder(1).start().await.unwrap();
    let mut proxied = None;
    drop_at_each_await(
        "FaultProxy::start",
        || FaultProxy::start(zk.addresses()[0]),
        |started| {
            proxied = started;
            async {}
        },
    )
    .await;
    let proxy = proxied.unwrap().unwrap();
    let upstream = zk.addresses()[0].to_string();
    let upstream = upstream.as_str();
    drop_at_each_await(
        "FaultProxy::start_for",
        move || FaultProxy::start_for(upstream),
        |started| async move {
            if let Some(started) = started {
                let other = started.unwrap();
                let addr = other.local_addr();
                drop(other);
                port_free(addr, "dropped proxy");
            }
        },
    )
    .await;
    let client = Client::builder(proxy.connect_string())
        .session_timeout(Duration::from_secs(4))
        .connect()
        .await
        .unwrap();
    let lost = proxy.inject(Match::op(OpCode::Create2), Fault::DropBeforeReply);
    // Dropped while the fault has not fired: the injection stays, and a
    // later wait sees it fire.
    assert!(matches!(cut_after(lost.triggered(), 0).await, Cut::Dropped));
    let err = client
        .create("/through-proxy", "", CreateMode::Persistent)
        .await
        .unwrap_err();
    assert!(err.is_node_exists(), "{err:?}");
    let seen = within("the fault", lost.triggered()).await;
    assert_eq!(seen.path.as_deref(), Some("/through-proxy"));
    let addr = proxy.local_addr();
    drop(proxy);
    // No yield to the runtime: the listener is closed by the drop itself.
    port_free(addr, "dropped proxy");
}

#[tokio::test]
async fn dropping_the_control_server_closes_its_port_and_releases_the_ensemble() {
    let _turn = serial().await;
    let before = ensemble_threads();
    let zk = builder(1).start().await.unwrap();
    let ports = zk.addresses();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let control = listener.local_addr().unwrap();
    let serving = zk_testserver::control::serve(listener, Arc::new(zk));
    assert!(matches!(cut_after(serving, 0).await, Cut::Dropped));
    port_free(control, "dropped control server");
    for addr in ports {
        port_free(addr, "ensemble of a dropped control server");
    }
    ensemble_threads_back_to(before, "dropped control server").await;
}
