//! Where the integration suite runs, and per-test namespaces.
//!
//! `ZK_CONNECT` names an ensemble (real ZooKeeper in `.ci/run`); without it
//! the suite starts an in-process `zk_testserver` ensemble (of
//! `ZK_TEST_MEMBERS` members, default 1). `ZK_REFERENCE`
//! says what `ZK_CONNECT` is (`standalone` or `ensemble`), and
//! `ZK_REFERENCE_SCRIPT` points at `scripts/zk-reference.sh` so fault tests
//! can stop and start real members. `ZK_REFERENCE_VERSION` (3.8 or 3.9) is
//! the release behind `ZK_CONNECT`; the in-process ensemble imitates
//! `ZK_TEST_VERSION` (default 3.9) — see [`zookeeper_version`].

use std::time::Duration;
use zk_client::{Client, CreateMode};

/// The ensemble under test.
pub struct Target {
    /// Its connect string (no chroot).
    pub connect: String,
    /// The server tick, when known.
    pub tick: Option<Duration>,
    /// The in-process ensemble, when the suite started one.
    pub embedded: Option<zk_testserver::Ensemble>,
}

/// The embedded ensemble's tick: short, so timeouts in tests are short.
const EMBEDDED_TICK: Duration = Duration::from_millis(100);

impl Target {
    /// `ZK_CONNECT` if set, else a fresh in-process zk-testserver (of
    /// `ZK_TEST_MEMBERS` members, 1 if unset).
    pub async fn get() -> Target {
        init_tracing();
        match Self::reference() {
            Some(target) => target,
            None => {
                let members = std::env::var("ZK_TEST_MEMBERS")
                    .ok()
                    .and_then(|m| m.parse().ok())
                    .unwrap_or(1);
                Self::embedded(members).await
            }
        }
    }

    /// A replicated target whose members a test can stop and start: a real
    /// ensemble run by the reference script (`ZK_REFERENCE=ensemble`), else
    /// a fresh 3-member in-process ensemble. `None` only when `ZK_CONNECT`
    /// names a standalone server: such a test then runs in the conformance
    /// step against the real ensemble instead.
    pub async fn replicated() -> Option<Target> {
        init_tracing();
        match Self::reference() {
            Some(target) if target.is_real_ensemble() => Some(target),
            Some(_) => {
                eprintln!("not run against a standalone server: needs an ensemble");
                None
            }
            None => Some(Self::embedded(3).await),
        }
    }

    /// The real server named by `ZK_CONNECT`, if set.
    fn reference() -> Option<Target> {
        let connect = std::env::var("ZK_CONNECT").ok().filter(|c| !c.is_empty())?;
        Some(Target {
            connect,
            tick: std::env::var("ZK_REFERENCE_TICK_TIME")
                .ok()
                .and_then(|t| t.parse().ok())
                .map(Duration::from_millis),
            embedded: None,
        })
    }

    /// A fresh in-process ensemble configured as the reference servers are.
    async fn embedded(members: usize) -> Target {
        Self::embedded_from(embedded_builder(members)).await
    }

    /// A fresh in-process ensemble from `builder` (start from
    /// [`embedded_builder`] to keep the reference servers' settings).
    pub async fn embedded_from(builder: zk_testserver::EnsembleBuilder) -> Target {
        init_tracing();
        let ensemble = builder.start().await.expect("start the embedded ensemble");
        Target {
            connect: ensemble.connect_string(),
            tick: Some(EMBEDDED_TICK),
            embedded: Some(ensemble),
        }
    }

    /// Whether the target is a real ZooKeeper ensemble of several members.
    pub fn is_real_ensemble(&self) -> bool {
        std::env::var("ZK_REFERENCE").as_deref() == Ok("ensemble")
    }
}

/// The settings of the in-process ensembles: `members` members configured
/// as the reference script's servers are.
pub fn embedded_builder(members: usize) -> zk_testserver::EnsembleBuilder {
    zk_testserver::Ensemble::builder()
        .members(members)
        .tick(EMBEDDED_TICK)
        .extended_types(true)
        .super_digest(format!(
            "super:{}",
            zk_client::proto::digest_id("super", "superpw").trim_start_matches("super:")
        ))
        .container_check_interval(Duration::from_millis(50))
        .zookeeper_version(zookeeper_version())
        // Read-only mode on, as the reference script's servers
        // (readonlymode.enabled), with a grace shorter than the
        // 2 s session timeouts of this tick.
        .read_only_grace(EMBEDDED_TICK * 5)
        // Every four-letter word and no per-address connection
        // cap, as the reference script's servers.
        .four_letter_words(zk_testserver::FourLetterWords::all())
        .max_client_cnxns(0)
}

/// The ZooKeeper release under test, for the few behaviours where 3.8 and
/// 3.9 differ: `ZK_REFERENCE_VERSION` for a real server (3.8 if unset), else
/// what the in-process ensemble imitates (`ZK_TEST_VERSION`, default 3.9).
pub fn zookeeper_version() -> zk_testserver::ZkVersion {
    let var = if std::env::var("ZK_CONNECT").is_ok_and(|c| !c.is_empty()) {
        std::env::var("ZK_REFERENCE_VERSION").unwrap_or_else(|_| "3.8".into())
    } else {
        std::env::var("ZK_TEST_VERSION").unwrap_or_else(|_| "3.9".into())
    };
    var.parse().expect("ZK_REFERENCE_VERSION / ZK_TEST_VERSION")
}

/// A fresh subtree for one test: clients built from it are chrooted there.
pub struct Namespace {
    /// The target.
    pub target: Target,
    /// The chroot, e.g. `/it/4f1c...`.
    pub root: String,
}

impl Namespace {
    /// Creates `/it/<unique>` on the target ([`Target::get`]).
    pub async fn new() -> Namespace {
        Self::on(Target::get().await).await
    }

    /// The same on a replicated target ([`Target::replicated`]).
    pub async fn replicated() -> Option<Namespace> {
        Some(Self::on(Target::replicated().await?).await)
    }

    /// Creates `/it/<unique>` on `target`.
    pub async fn on(target: Target) -> Namespace {
        let root = format!("/it/{:016x}", rand_id());
        let admin = Client::connect(&target.connect).await.expect("connect");
        admin
            .create_all(&root, "", CreateMode::Persistent)
            .await
            .expect("create namespace");
        admin.close().await.expect("close");
        Namespace { target, root }
    }

    /// Connect string chrooted at the namespace.
    pub fn connect_string(&self) -> String {
        format!("{}{}", self.target.connect, self.root)
    }

    /// A client chrooted at the namespace, 4 s session timeout.
    pub async fn client(&self) -> Client {
        self.builder().connect().await.expect("connect")
    }

    /// A builder for a chrooted client.
    pub fn builder(&self) -> zk_client::ClientBuilder {
        Client::builder(self.connect_string()).session_timeout(Duration::from_secs(4))
    }

    /// A fault proxy in front of the target's first server, and a builder
    /// for a chrooted client that reaches the server only through it.
    pub async fn proxied_builder(
        &self,
    ) -> (zk_testserver::proxy::FaultProxy, zk_client::ClientBuilder) {
        let first = self.target.connect.split(',').next().unwrap_or_default();
        let proxy = zk_testserver::proxy::FaultProxy::start_for(first)
            .await
            .expect("start a fault proxy");
        let builder = Client::builder(format!("{}{}", proxy.connect_string(), self.root))
            .session_timeout(Duration::from_secs(4));
        (proxy, builder)
    }

    /// Ends `client`'s session from the server side and waits until the
    /// client reports it lost. In-process: the ensemble expires it. Real
    /// ZooKeeper: another client takes the session over and closes it,
    /// repeated until the close wins the race against `client` reattaching.
    pub async fn expire(&self, client: &Client) {
        let id = client.session_id();
        if let Some(ensemble) = &self.target.embedded {
            ensemble.expire_session(id).await.expect("expire");
        } else {
            let password = client.session_password();
            for _ in 0..50 {
                if client.state() == zk_client::ConnectionState::Lost || client.session_id() != id {
                    break;
                }
                if let Ok(thief) = self
                    .builder()
                    .attach_session(id, password.clone())
                    .connect()
                    .await
                {
                    let _ = thief.close().await;
                }
                let _ = tokio::time::timeout(
                    Duration::from_millis(200),
                    client.wait_for_state(|s| s == zk_client::ConnectionState::Lost),
                )
                .await;
            }
        }
        within("session lost", async {
            let mut states = client.state_stream();
            while let Some(s) = futures::StreamExt::next(&mut states).await {
                if s == zk_client::ConnectionState::Lost || client.session_id() != id {
                    return;
                }
            }
        })
        .await;
    }

    /// A client without chroot.
    pub async fn root_client(&self) -> Client {
        Client::builder(&self.target.connect)
            .session_timeout(Duration::from_secs(4))
            .connect()
            .await
            .expect("connect")
    }
}

fn rand_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.finish()
}

/// Awaits a future with a generous bound, so a broken test fails instead of hanging.
pub async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// A fresh namespace on the target ([`Namespace::new`]).
#[macro_export]
macro_rules! ns {
    () => {
        $crate::common::Namespace::new().await
    };
}

/// Logs to the test's output when `RUST_LOG` is set.
pub fn init_tracing() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    });
}
