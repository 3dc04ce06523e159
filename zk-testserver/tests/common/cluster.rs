//! Helpers for tests of a replicated ensemble with the real client.

use std::future::Future;
use std::time::Duration;
use zk_client::{Client, CreateMode};
use zk_testserver::Ensemble;

/// The tick of ensemble tests: short, so elections and timeouts are quick.
pub const TICK: Duration = Duration::from_millis(50);

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

/// A builder for an `n`-member ensemble with the test tick.
pub fn builder(n: usize) -> zk_testserver::EnsembleBuilder {
    init_tracing();
    Ensemble::builder()
        .members(n)
        .tick(TICK)
        .wait_timeout(Duration::from_secs(15))
}

/// Awaits `fut`, failing the test instead of hanging.
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// A client of the whole ensemble.
pub async fn client(zk: &Ensemble) -> Client {
    Client::builder(zk.connect_string())
        .session_timeout(Duration::from_secs(4))
        .connect()
        .await
        .expect("connect")
}

/// A client that only talks to `member`.
pub async fn client_of(zk: &Ensemble, member: u64) -> Client {
    Client::builder(zk.addr(member).expect("member").to_string())
        .session_timeout(Duration::from_secs(4))
        // These tests watch sessions end; a renewing client would start another.
        .renew_session_on_expiry(false)
        .connect()
        .await
        .expect("connect")
}

/// Creates `/<prefix><i>` for i in 0..n in a task, counting acknowledged
/// writes on the returned channel; the task yields the acknowledged paths.
pub fn write_load(
    c: &Client,
    prefix: &str,
    n: usize,
) -> (
    tokio::task::JoinHandle<Vec<String>>,
    tokio::sync::watch::Receiver<usize>,
) {
    let (tx, rx) = tokio::sync::watch::channel(0);
    let c = c.clone();
    let prefix = prefix.to_string();
    let task = tokio::spawn(async move {
        let mut acked = Vec::new();
        for i in 0..n {
            let path = format!("/{prefix}{i}");
            match c.create(&path, "", CreateMode::Persistent).await {
                Ok(_) => acked.push(path),
                // A first attempt applied before its connection dropped.
                Err(e) if e.is_node_exists() && e.after_retry() => acked.push(path),
                Err(e) => panic!("write {path} failed: {e}"),
            }
            tx.send_replace(acked.len());
        }
        acked
    });
    (task, rx)
}

/// Asserts that every path exists on every running member (read from a
/// client of that member alone).
pub async fn assert_everywhere(zk: &Ensemble, paths: &[String]) {
    for m in zk.members() {
        if !zk.status(m).expect("member").running {
            continue;
        }
        let c = client_of(zk, m).await;
        for p in paths {
            assert!(
                c.exists(p).await.expect("exists").is_some(),
                "{p} missing on member {m}"
            );
        }
        c.close().await.expect("close");
    }
}

/// Asserts that `path` exists on no running member.
pub async fn assert_nowhere(zk: &Ensemble, path: &str) {
    for m in zk.members() {
        if !zk.status(m).expect("member").running {
            continue;
        }
        let c = client_of(zk, m).await;
        assert!(
            c.exists(path).await.expect("exists").is_none(),
            "{path} present on member {m}"
        );
        c.close().await.expect("close");
    }
}
