//! Cancel safety: each lock/queue/watch-facing call is dropped after 1, 2,
//! ... polls (each poll after the call's own wake-up, i.e. at each of its
//! await points in turn) until it completes, once on a healthy connection
//! and once with the connection dropped under its request (so the retry
//! path's await points are hit too). After every drop the client must still
//! work and hold nothing for the dropped call: no request slot, no
//! registered watch without a handle, and the documented outcome (a
//! request applied whole or not at all).

use crate::bounded::eventually;
use crate::common::{within, Namespace};
use crate::ns;
use futures::task::ArcWake;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use zk_client::proto::OpCode;
use zk_client::{AddWatchMode, Client, ConnectionState, CreateMode, Op};
use zk_testserver::proxy::{Fault, FaultProxy, Injection, Match};

/// A waker that records wake-ups.
struct WakeFlag(tokio::sync::Notify);

impl ArcWake for WakeFlag {
    fn wake_by_ref(flag: &Arc<Self>) {
        flag.0.notify_one();
    }
}

/// Polls `fut` up to `n` times, each poll after the future asked to be
/// polled again, and drops it right after the n-th poll if it has not
/// completed.
async fn poll_n_then_drop<F: Future>(fut: F, n: usize) -> Option<F::Output> {
    let flag = Arc::new(WakeFlag(tokio::sync::Notify::new()));
    let waker = futures::task::waker(flag.clone());
    let mut fut = pin!(fut);
    for i in 0..n {
        if i > 0 {
            within("the call to wake up", flag.0.notified()).await;
        }
        if let Poll::Ready(out) = fut.as_mut().poll(&mut Context::from_waker(&waker)) {
            return Some(out);
        }
    }
    // Dropped right after its n-th poll, with whatever it awaits in flight.
    None
}

/// Most polls a call may need: a healthy call needs two or three, one
/// whose connection drops a few more (reconnect, retry pause).
const MAX_POLLS: usize = 100;

/// Where the connection is dropped, if anywhere.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Weather {
    /// Nothing goes wrong.
    Fair,
    /// The call's request reaches the server, its reply does not.
    LostReply,
}

struct Bench {
    ns: Namespace,
    proxy: FaultProxy,
    client: Client,
}

impl Bench {
    async fn new() -> Bench {
        let ns = Namespace::new().await;
        let (proxy, builder) = ns.proxied_builder().await;
        let client = builder.connect().await.expect("connect");
        // The first call also checks the chroot; done here, so the calls
        // under test start with their own await points.
        client.exists("/").await.expect("first call");
        Bench { ns, proxy, client }
    }

    /// Arms the fault for the request on a path containing `needle`.
    fn arm(&self, weather: Weather, op: Option<OpCode>, needle: &str) -> Option<Injection> {
        (weather == Weather::LostReply).then(|| {
            let matcher = Match {
                op,
                path_contains: Some(needle.to_string()),
            };
            self.proxy.inject(matcher, Fault::DropBeforeReply)
        })
    }

    /// Creates the node each n of a run works on (one multi).
    async fn create_nodes(&self, prefix: &str, data: &str) {
        let ops = (1..=MAX_POLLS)
            .map(|n| Op::create(node(prefix, n), data.to_string(), CreateMode::Persistent))
            .collect();
        self.client.multi(ops).await.expect("create the nodes");
    }

    /// Waits until the client holds no request and exactly `watchers`
    /// watchers, and checks it still answers.
    async fn settle(&self, watchers: usize) {
        let c = &self.client;
        eventually("no request held", || c.pending_requests() == 0).await;
        eventually("no stray watcher", || c.watcher_count() == watchers).await;
        within("the client still works", c.exists("/"))
            .await
            .expect("the client still works");
    }

    /// For n = 1, 2, ...: `call(n)` polled n times then dropped, then
    /// `check(n, outcome)`; until a call completes. Returns that n.
    async fn drop_at_every_poll<T, Fut, Chk>(
        &self,
        weather: Weather,
        op: OpCode,
        mut call: impl FnMut(usize) -> Fut,
        mut check: impl FnMut(usize, Option<T>) -> Chk,
    ) -> usize
    where
        Fut: Future<Output = T>,
        Chk: Future<Output = ()>,
    {
        for n in 1..=MAX_POLLS {
            let fault = self.arm(weather, Some(op), &format!("-{n}-"));
            let outcome = poll_n_then_drop(call(n), n).await;
            let completed = outcome.is_some();
            if let Some(f) = fault {
                f.cancel();
            }
            check(n, outcome).await;
            if completed {
                eprintln!("{op:?} ({weather:?}) completed at poll {n}, dropped at 1..{n}");
                return n;
            }
        }
        panic!("{op:?} did not complete within {MAX_POLLS} polls ({weather:?})");
    }
}

fn node(prefix: &str, n: usize) -> String {
    format!("/{prefix}-{n}-")
}

#[tokio::test]
async fn create_dropped_at_each_await_is_applied_whole_or_not_at_all() {
    let b = Bench::new().await;
    let b = &b;
    for weather in [Weather::Fair, Weather::LostReply] {
        let prefix = format!("create{weather:?}");
        let prefix = prefix.as_str();
        let c = &b.client;
        b.drop_at_every_poll(
            weather,
            OpCode::Create2,
            |n| async move {
                c.create(&node(prefix, n), "v", CreateMode::Persistent)
                    .await
            },
            |n, _| async move {
                b.settle(0).await;
                if let Some(stat) = c.exists(&node(prefix, n)).await.unwrap() {
                    assert_eq!(c.get_data(&node(prefix, n)).await.unwrap().0, "v");
                    assert_eq!(stat.version, 0);
                }
            },
        )
        .await;
    }
}

#[tokio::test]
async fn delete_dropped_at_each_await_leaves_the_node_intact_or_gone() {
    let b = Bench::new().await;
    let b = &b;
    let c = &b.client;
    for weather in [Weather::Fair, Weather::LostReply] {
        let prefix = format!("delete{weather:?}");
        let prefix = prefix.as_str();
        b.create_nodes(prefix, "v").await;
        b.drop_at_every_poll(
            weather,
            OpCode::Delete,
            |n| async move { c.delete(&node(prefix, n), None).await },
            |n, outcome| async move {
                b.settle(0).await;
                let left = c.exists(&node(prefix, n)).await.unwrap();
                if let Some(result) = outcome {
                    result.expect("a completed delete succeeds");
                    assert!(left.is_none());
                }
                assert!(left.is_none_or(|s| s.version == 0));
            },
        )
        .await;
    }
}

#[tokio::test]
async fn multi_dropped_at_each_await_is_all_or_nothing() {
    let b = Bench::new().await;
    let b = &b;
    let c = &b.client;
    for weather in [Weather::Fair, Weather::LostReply] {
        let prefix = format!("multi{weather:?}");
        let prefix = prefix.as_str();
        let pair = |n: usize| {
            (
                format!("{}a", node(prefix, n)),
                format!("{}b", node(prefix, n)),
            )
        };
        b.drop_at_every_poll(
            weather,
            OpCode::Multi,
            |n| {
                let (a, bb) = pair(n);
                c.multi(vec![
                    Op::create(a, "", CreateMode::Persistent),
                    Op::create(bb, "", CreateMode::Persistent),
                ])
            },
            |n, _| async move {
                b.settle(0).await;
                let (a, bb) = pair(n);
                let a = c.exists(&a).await.unwrap().is_some();
                let bb = c.exists(&bb).await.unwrap().is_some();
                assert_eq!(a, bb, "a multi is applied whole or not at all");
            },
        )
        .await;
    }
}

#[tokio::test]
async fn sync_dropped_at_each_await_leaves_nothing_behind() {
    let b = Bench::new().await;
    let b = &b;
    let c = &b.client;
    for weather in [Weather::Fair, Weather::LostReply] {
        let prefix = format!("sync{weather:?}");
        let prefix = prefix.as_str();
        b.create_nodes(prefix, "").await;
        b.drop_at_every_poll(
            weather,
            OpCode::Sync,
            |n| async move { c.sync(&node(prefix, n)).await },
            |_, _| b.settle(0),
        )
        .await;
    }
}

/// The one-shot watch calls: a dropped call leaves no watcher, a completed
/// one exactly one (its handle's), gone when the handle is dropped; a
/// change to the node afterwards reaches nobody and breaks nothing.
async fn one_shot_watch_dropped_at_each_await(op: OpCode) {
    let b = Bench::new().await;
    let b = &b;
    let c = &b.client;
    for weather in [Weather::Fair, Weather::LostReply] {
        let prefix = format!("{op:?}{weather:?}");
        let prefix = prefix.as_str();
        b.create_nodes(prefix, "").await;
        b.drop_at_every_poll(
            weather,
            op,
            |n| async move {
                let path = node(prefix, n);
                match op {
                    OpCode::GetData => c.get_data_watch(&path).await.map(|r| r.2),
                    OpCode::Exists => c.exists_watch(&format!("{path}missing")).await.map(|r| r.1),
                    _ => c.get_children_watch(&path).await.map(|r| r.1),
                }
            },
            |n, watch| {
                let watch = watch.map(|w| w.unwrap());
                let path = node(prefix, n);
                async move {
                    b.settle(usize::from(watch.is_some())).await;
                    drop(watch);
                    b.settle(0).await;
                    // Fire whatever the server still holds for the dropped call.
                    c.set_data(&path, "changed", None).await.unwrap();
                    c.create(&format!("{path}/child"), "", CreateMode::Ephemeral)
                        .await
                        .unwrap();
                    c.create(&format!("{path}missing"), "", CreateMode::Ephemeral)
                        .await
                        .unwrap();
                    b.settle(0).await;
                }
            },
        )
        .await;
    }
}

#[tokio::test]
async fn get_data_watch_dropped_at_each_await_leaves_no_watcher() {
    one_shot_watch_dropped_at_each_await(OpCode::GetData).await;
}

#[tokio::test]
async fn exists_watch_dropped_at_each_await_leaves_no_watcher() {
    one_shot_watch_dropped_at_each_await(OpCode::Exists).await;
}

#[tokio::test]
async fn get_children_watch_dropped_at_each_await_leaves_no_watcher() {
    one_shot_watch_dropped_at_each_await(OpCode::GetChildren).await;
}

/// A persistent watch whose call is dropped after its request reached the
/// server is removed from the server again.
#[tokio::test]
async fn add_watch_dropped_at_each_await_leaves_no_watch_anywhere() {
    let b = Bench::new().await;
    let b = &b;
    let c = &b.client;
    for weather in [Weather::Fair, Weather::LostReply] {
        let prefix = format!("addwatch{weather:?}");
        let prefix = prefix.as_str();
        let n_done = b
            .drop_at_every_poll(
                weather,
                OpCode::AddWatch,
                |n| async move {
                    c.add_watch(&node(prefix, n), AddWatchMode::PersistentRecursive)
                        .await
                },
                |n, out| {
                    let held = out.map(|r| r.unwrap());
                    let path = node(prefix, n);
                    async move {
                        b.settle(usize::from(held.is_some())).await;
                        drop(held);
                        b.settle(0).await;
                        c.create(&path, "", CreateMode::Persistent).await.unwrap();
                        b.settle(0).await;
                    }
                },
            )
            .await;
        if weather == Weather::Fair {
            // Every addWatch that reached the server on a live connection
            // was followed by a removeWatches for its path.
            let log = b.proxy.requests();
            for n in 1..=n_done {
                let server_path = format!("{}{}", b.ns.root, node(prefix, n));
                let sent = |op: OpCode| {
                    log.iter()
                        .any(|r| r.op == op && r.path.as_deref() == Some(server_path.as_str()))
                };
                if sent(OpCode::AddWatch) {
                    assert!(sent(OpCode::RemoveWatches), "n = {n}: {log:?}");
                }
            }
        }
    }
}

/// A dropped close still closes: the request is handed over on the first
/// poll, and the session ends (its ephemerals with it).
#[tokio::test]
async fn close_dropped_at_each_await_still_closes() {
    let ns = ns!();
    let observer = ns.client().await;
    for weather in [Weather::Fair, Weather::LostReply] {
        for n in 1..=MAX_POLLS {
            let (proxy, builder) = ns.proxied_builder().await;
            let c = builder.connect().await.unwrap();
            let eph = format!("/close{weather:?}-{n}-");
            c.create(&eph, "", CreateMode::Ephemeral).await.unwrap();
            let fault = (weather == Weather::LostReply)
                .then(|| proxy.inject(Match::op(OpCode::CloseSession), Fault::DropBeforeReply));
            let completed = poll_n_then_drop(c.close(), n).await.is_some();
            within("closed", c.wait_for_state(|s| s == ConnectionState::Closed)).await;
            if let Some(f) = fault {
                within("the close reached the server", f.triggered()).await;
            }
            assert!(observer.exists(&eph).await.unwrap().is_none(), "n = {n}");
            eventually("the connection is released", || {
                proxy.open_connections() == 0
            })
            .await;
            if completed {
                break;
            }
        }
    }
}

/// A dropped connect leaves no session or connection behind.
#[tokio::test]
async fn connect_dropped_at_each_await_leaves_no_connection() {
    let ns = ns!();
    let (proxy, builder) = ns.proxied_builder().await;
    drop(builder);
    for n in 1..=MAX_POLLS {
        let connect = Client::builder(format!("{}{}", proxy.connect_string(), ns.root)).connect();
        let client = poll_n_then_drop(connect, n).await;
        let completed = client.is_some();
        drop(client);
        eventually("the connection is released", || {
            proxy.open_connections() == 0
        })
        .await;
        if completed {
            break;
        }
    }
}

/// A call waiting for room in the request queue can be dropped: nothing
/// was queued for it.
#[tokio::test]
async fn a_call_waiting_for_room_can_be_dropped() {
    let ns = ns!();
    let (proxy, builder) = ns.proxied_builder().await;
    let c = builder.max_pending_requests(1).connect().await.unwrap();
    c.create("/room", "", CreateMode::Persistent).await.unwrap();
    let held = proxy.inject(Match::op(OpCode::GetData), Fault::HoldReply);
    let first = tokio::spawn({
        let c = c.clone();
        async move { c.get_data("/room").await }
    });
    within("the first request is held", held.triggered()).await;
    eventually("one request held", || c.pending_requests() == 1).await;
    // Fill the command channel, then drop every waiting call.
    for n in 1..=3 {
        let waiting = (0..300).map(|_| c.exists("/room"));
        for fut in waiting {
            assert!(poll_n_then_drop_now(fut, n).is_none());
        }
    }
    held.release();
    within("the held call", first).await.unwrap().unwrap();
    eventually("nothing held", || c.pending_requests() == 0).await;
    c.exists("/room").await.unwrap();
}

/// Polls `fut` `n` times in a row (no waiting) and drops it.
fn poll_n_then_drop_now<F: Future>(fut: F, n: usize) -> Option<F::Output> {
    let waker = futures::task::noop_waker();
    let mut fut = pin!(fut);
    for _ in 0..n {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut Context::from_waker(&waker)) {
            return Some(out);
        }
    }
    None
}
