//! Shared harness of the integration tests.
//!
//! Every test works in its own chroot `/recipes-it/<uuid>` on the target
//! ensemble, so tests run in parallel and leave nothing behind. The target is
//! `ZK_CONNECT` (real ZooKeeper or any ensemble); without it each test starts
//! its own in-process `zk_testserver::Ensemble` (of `ZK_TEST_MEMBERS`
//! members, default 1).
#![allow(dead_code)]

use futures::StreamExt;
use std::future::Future;
use std::time::Duration;
use zk_client::{Client, ClientBuilder, ConnectionState, CreateMode};
use zk_testserver::proxy::FaultProxy;

/// Session timeout of test clients (the reference server's tickTime is
/// 200 ms, so 400 ms – 4 s are possible).
pub const SESSION: Duration = Duration::from_millis(1600);

/// Upper bound for anything a test awaits.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The ensemble to test against: `ZK_CONNECT`, or a fresh in-process one
/// (with the reference servers' 200 ms tick, so sessions of 400 ms – 4 s).
async fn target() -> (String, Option<std::sync::Arc<zk_testserver::Ensemble>>) {
    match std::env::var("ZK_CONNECT") {
        Ok(hosts) if !hosts.trim().is_empty() => (hosts.trim().to_string(), None),
        _ => {
            let members = std::env::var("ZK_TEST_MEMBERS")
                .ok()
                .and_then(|m| m.parse().ok())
                .unwrap_or(1);
            let ensemble = zk_testserver::Ensemble::builder()
                .members(members)
                .tick(Duration::from_millis(200))
                .start()
                .await
                .expect("start the in-process ensemble");
            (
                ensemble.connect_string(),
                Some(std::sync::Arc::new(ensemble)),
            )
        }
    }
}

/// One test's namespace on the target.
pub struct Env {
    /// `host:port[,...]` without chroot.
    pub hosts: String,
    /// `/recipes-it/<uuid>`.
    pub root: String,
    /// The in-process ensemble, when the test started one.
    pub ensemble: Option<std::sync::Arc<zk_testserver::Ensemble>>,
}

/// Sets up a fresh namespace on the target (`ZK_CONNECT`, or an in-process
/// ensemble); every test runs, none skips.
pub async fn env() -> Env {
    init_tracing();
    let (hosts, ensemble) = target().await;
    let root = format!("/recipes-it/{}", uuid::Uuid::new_v4());
    let admin = Client::builder(hosts.clone())
        .session_timeout(SESSION)
        .connect()
        .await
        .expect("connect to the target");
    admin
        .create_all(&root, "", CreateMode::Persistent)
        .await
        .expect("create the test namespace");
    admin.close().await.ok();
    Env {
        hosts,
        root,
        ensemble,
    }
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

impl Env {
    /// The first host, where proxies point.
    pub fn first_host(&self) -> String {
        self.hosts.split(',').next().unwrap_or_default().to_string()
    }

    /// The connect string with this test's chroot.
    pub fn connect_string(&self) -> String {
        format!("{}{}", self.hosts, self.root)
    }

    /// A builder for a client in this namespace: short session, renewing
    /// sessions after expiry (what recipes expect).
    pub fn builder(&self) -> ClientBuilder {
        Client::builder(self.connect_string())
            .session_timeout(SESSION)
            .renew_session_on_expiry(true)
    }

    /// A connected client.
    pub async fn client(&self) -> Client {
        self.builder().connect().await.expect("connect")
    }

    /// A fault proxy in front of the first host and a client builder that
    /// goes through it (chroot included).
    pub async fn proxied(&self) -> (FaultProxy, ClientBuilder) {
        let proxy = FaultProxy::start_for(&self.first_host())
            .await
            .expect("proxy starts");
        let builder = Client::builder(format!("{}{}", proxy.connect_string(), self.root))
            .session_timeout(SESSION)
            .renew_session_on_expiry(true);
        (proxy, builder)
    }

    /// Attaches a second client to `client`'s session (directly, not through
    /// any proxy), which keeps the session alive on the server whatever
    /// happens to `client`'s connection. Close it to end the session.
    pub async fn attach(&self, session_id: i64, password: bytes::Bytes) -> Client {
        Client::builder(self.connect_string())
            .session_timeout(SESSION)
            .attach_session(session_id, password)
            .connect()
            .await
            .expect("attach to the session")
    }

    /// Forces the session of `client` (connected through `proxy`) to
    /// expire, the usual way: attach a second client to the session and
    /// close it. The proxy refuses `client`'s connections meanwhile (else the
    /// two would take the session from each other). Waits until `client` has
    /// seen the loss (and, if it renews sessions, got a new one).
    pub async fn expire(&self, proxy: &FaultProxy, client: &Client) {
        let old = client.session_id();
        let mut states = client.state_stream();
        proxy.refuse();
        let other = self.attach(old, client.session_password()).await;
        other.close().await.expect("close the attached client");
        proxy.heal();
        within(PATIENCE, async {
            while let Some(s) = states.next().await {
                if s == ConnectionState::Lost {
                    break;
                }
            }
        })
        .await;
        if client.renews_session_on_expiry() {
            connected(client).await;
            assert_ne!(client.session_id(), old, "a new session");
        }
    }

    /// Children of `path` (empty if it does not exist), via a fresh client.
    pub async fn children(&self, client: &Client, path: &str) -> Vec<String> {
        match client.get_children(path).await {
            Ok(mut c) => {
                c.sort();
                c
            }
            Err(e) if e.is_no_node() => Vec::new(),
            Err(e) => panic!("get_children {path}: {e}"),
        }
    }

    /// Waits (on child watches, no polling) until `pred` holds for the
    /// children of `path`.
    pub async fn wait_children(
        &self,
        client: &Client,
        path: &str,
        pred: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
        within(PATIENCE, async {
            loop {
                match client.get_children_watch(path).await {
                    Ok((mut children, watch)) => {
                        children.sort();
                        if pred(&children) {
                            return children;
                        }
                        let _ = watch.await;
                    }
                    Err(e) if e.is_no_node() => {
                        if pred(&[]) {
                            return Vec::new();
                        }
                        let (stat, watch) = client.exists_watch(path).await.expect("exists");
                        if stat.is_none() {
                            let _ = watch.await;
                        }
                    }
                    Err(e) => panic!("get_children_watch {path}: {e}"),
                }
            }
        })
        .await
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // An in-process ensemble goes away with the test; only a shared
        // ensemble needs its namespace removed.
        if self.ensemble.is_some() {
            return;
        }
        let hosts = self.hosts.clone();
        let root = self.root.clone();
        // Cleanup needs a runtime of its own: the test's may be gone.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    if let Ok(admin) = Client::builder(hosts)
                        .session_timeout(SESSION)
                        .connect()
                        .await
                    {
                        let _ = delete_tree(&admin, &root).await;
                        let _ = admin.close().await;
                    }
                });
            }
        })
        .join();
    }
}

/// Deletes `path` and everything below it.
pub async fn delete_tree(client: &Client, path: &str) -> zk_client::Result<()> {
    let mut order = vec![path.to_string()];
    let mut i = 0;
    while i < order.len() {
        let p = order[i].clone();
        match client.get_children(&p).await {
            Ok(children) => {
                for c in children {
                    order.push(format!("{p}/{c}"));
                }
            }
            Err(e) if e.is_no_node() => {}
            Err(e) => return Err(e),
        }
        i += 1;
    }
    for p in order.iter().rev() {
        match client.delete(p, None).await {
            Ok(()) => {}
            Err(e) if e.is_no_node() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Awaits `fut`, failing the test if it takes longer than `limit`.
pub async fn within<T>(limit: Duration, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, fut).await {
        Ok(v) => v,
        Err(_) => panic!("not done within {limit:?}"),
    }
}

/// Drives `op` until `held` (a [`zk_testserver::proxy::Fault::HoldReply`]
/// rule) has caught its request, then drops `op` there: the drop lands while
/// that request is in flight, whatever the machine's speed. Fails the test
/// if `op` finishes first or the request does not come within [`PATIENCE`].
pub async fn drop_when_held<T: std::fmt::Debug>(
    op: impl Future<Output = T>,
    held: &zk_testserver::proxy::Injection,
) -> zk_testserver::proxy::Observed {
    within(PATIENCE, async {
        tokio::select! {
            done = op => panic!("finished while its request was to be held: {done:?}"),
            seen = held.triggered() => seen,
        }
    })
    .await
}

/// Waits until `client` is connected (Connected or Reconnected).
pub async fn connected(client: &Client) {
    within(
        PATIENCE,
        client.wait_for_state(|s| {
            matches!(s, ConnectionState::Connected | ConnectionState::Reconnected)
        }),
    )
    .await;
}

/// Waits until `client` reports `state`.
pub async fn reaches(client: &Client, state: ConnectionState) {
    let mut states = client.state_stream();
    within(PATIENCE, async {
        while let Some(s) = states.next().await {
            if s == state {
                return;
            }
        }
        panic!("state stream ended before {state:?}");
    })
    .await;
}
