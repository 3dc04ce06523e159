//! Where the integration suite runs, and per-test namespaces.
//!
//! `ZK_CONNECT` names an ensemble (real ZooKeeper in `.ci/run`); without it
//! the suite starts an in-process `zk_testserver` ensemble. `ZK_REFERENCE`
//! says what `ZK_CONNECT` is (`standalone` or `ensemble`), and
//! `ZK_REFERENCE_SCRIPT` points at `scripts/zk-reference.sh` so fault tests
//! can stop and start real members.

use std::time::Duration;
use zk_client::{Client, CreateMode};

/// The ensemble under test.
pub struct Target {
    /// Its connect string (no chroot).
    pub connect: String,
}

impl Target {
    /// The target, or `None` (with a message) when none is available.
    pub async fn get() -> Option<Target> {
        init_tracing();
        match std::env::var("ZK_CONNECT") {
            Ok(connect) if !connect.is_empty() => Some(Target { connect }),
            _ => {
                eprintln!("skipped: set ZK_CONNECT to run the integration suite");
                None
            }
        }
    }

    /// Whether the target is a real ZooKeeper ensemble of several members.
    pub fn is_real_ensemble(&self) -> bool {
        std::env::var("ZK_REFERENCE").as_deref() == Ok("ensemble")
    }
}

/// A fresh subtree for one test: clients built from it are chrooted there.
pub struct Namespace {
    /// The target.
    pub target: Target,
    /// The chroot, e.g. `/it/4f1c...`.
    pub root: String,
}

impl Namespace {
    /// Creates `/it/<unique>` on the target; `None` if there is no target.
    pub async fn new() -> Option<Namespace> {
        let target = Target::get().await?;
        let root = format!("/it/{:016x}", rand_id());
        let admin = Client::connect(&target.connect).await.expect("connect");
        admin
            .create_all(&root, "", CreateMode::Persistent)
            .await
            .expect("create namespace");
        admin.close().await.expect("close");
        Some(Namespace { target, root })
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

/// Gets the namespace or returns from the test (skipped).
#[macro_export]
macro_rules! ns {
    () => {
        match $crate::common::Namespace::new().await {
            Some(ns) => ns,
            None => return,
        }
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
