//! A client of an observer (a member without a vote): it reads, its writes
//! are forwarded to the leader, its watches fire for writes made through a
//! voter, and `/zookeeper/config` and `srvr` name the member an observer.
//!
//! Runs against a real ensemble started with observers
//! (`ZK_REF_OBSERVERS=1`, `conformance.sh` step `observer-ensemble`) and,
//! under plain `cargo test`, an in-process zk-testserver ensemble of three
//! voters and one observer. The observer is found the same way on both:
//! by its role in `/zookeeper/config`.

use crate::common::{embedded_builder, within, Namespace, Target};
use zk_client::ensemble_config::ServerRole;
use zk_client::{Client, CreateMode, EventType, WatchEvent};

/// A namespace on an ensemble with an observer, or None (saying why)
/// against a real server started without one.
async fn namespace() -> Option<Namespace> {
    if std::env::var("ZK_CONNECT").is_ok_and(|c| !c.is_empty()) {
        let observers: usize = std::env::var("ZK_REF_OBSERVERS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let ensemble = std::env::var("ZK_REFERENCE").as_deref() == Ok("ensemble");
        if observers == 0 || !ensemble {
            eprintln!(
                "not run here: needs a real ensemble with ZK_REF_OBSERVERS=1 \
                 (scripts/conformance.sh observer-ensemble runs it)"
            );
            return None;
        }
        return Some(Namespace::new().await);
    }
    let target = Target::embedded_from(embedded_builder(3).observers(1)).await;
    Some(Namespace::on(target).await)
}

/// The answer to a four-letter word.
async fn four_letter(addr: &str, word: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(word.as_bytes()).await.expect("send");
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.expect("read");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observer_serves_reads_forwards_writes_and_fires_watches() {
    let Some(ns) = namespace().await else {
        return;
    };
    let root = ns.root_client().await;
    let config = root.ensemble_config().await.unwrap();
    let address = |role: ServerRole| {
        let spec = config
            .servers
            .iter()
            .find(|s| s.role == role)
            .unwrap_or_else(|| panic!("no {role:?} in /zookeeper/config: {config:?}"));
        let (host, port) = spec.client_address().expect("a client address");
        format!("{host}:{port}")
    };
    let observer = address(ServerRole::Observer);
    let voter = address(ServerRole::Participant);
    let srvr = within("srvr", four_letter(&observer, "srvr")).await;
    assert!(srvr.contains("Mode: observer\n"), "{srvr}");

    let on_observer = Client::builder(format!("{observer}{}", ns.root))
        .connect()
        .await
        .unwrap();
    assert_eq!(
        on_observer.connected_server().map(|a| a.to_string()),
        Some(observer.clone())
    );
    // A write through the observer (forwarded to the leader), read back.
    on_observer
        .create("/o", "1", CreateMode::Persistent)
        .await
        .unwrap();
    let (data, stat) = on_observer.get_data("/o").await.unwrap();
    assert_eq!((data.as_ref(), stat.version), (b"1".as_ref(), 0));
    on_observer.set_data("/o", "2", Some(0)).await.unwrap();

    // A voter's client sees it; its write fires the observer client's watch.
    let on_voter = Client::builder(format!("{voter}{}", ns.root))
        .connect()
        .await
        .unwrap();
    on_voter.sync("/o").await.unwrap();
    assert_eq!(on_voter.get_data("/o").await.unwrap().0.as_ref(), b"2");
    let (_, _, watch) = on_observer.get_data_watch("/o").await.unwrap();
    on_voter.set_data("/o", "3", Some(1)).await.unwrap();
    match within("the observer's watch", watch).await {
        WatchEvent::Node(e) => assert_eq!(
            (e.event_type, e.path.as_str()),
            (EventType::NodeDataChanged, "/o")
        ),
        other => panic!("unexpected watch event {other:?}"),
    }
    assert_eq!(on_observer.get_data("/o").await.unwrap().0.as_ref(), b"3");
    on_observer.close().await.unwrap();
    on_voter.close().await.unwrap();
}
