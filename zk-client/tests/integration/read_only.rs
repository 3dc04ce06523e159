//! Read-only mode against an ensemble whose members the test can stop: when
//! only one member runs, it serves read-only sessions to clients that allow
//! them; those clients read, get NotReadOnly for writes, and get a
//! read-write session once the quorum is back.
//!
//! Runs where faults.rs runs: real ZooKeeper started by
//! `scripts/zk-reference.sh` (every member has `readonlymode.enabled=true`;
//! `conformance.sh` runs this test on an ensemble with
//! `ZK_REF_LOCAL_SESSIONS=yes`, since a real read-only member admits only
//! local sessions), or under plain `cargo test` a fresh 3-member in-process
//! ensemble (read-only mode on).

use crate::common::{within, Namespace};
use crate::faults::Members;
use std::time::Duration;
use zk_client::{Client, ConnectionState, CreateMode, ErrorCode};

/// Waits until the server at `addr` answers `isro` with `want`.
async fn isro(addr: &str, want: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    loop {
        if let Ok(mut s) = tokio::net::TcpStream::connect(addr).await {
            let mut answer = String::new();
            if s.write_all(b"isro").await.is_ok()
                && s.read_to_string(&mut answer).await.is_ok()
                && answer == want
            {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn local_sessions() -> bool {
    std::env::var("ZK_CONNECT").is_err()
        || std::env::var("ZK_REF_LOCAL_SESSIONS").as_deref() == Ok("yes")
}

// Multi-threaded: the reference script's start-member blocks a worker for
// seconds, and the clients' connection tasks must keep pinging meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lone_member_serves_read_only_sessions_until_the_quorum_returns() {
    let Some(ns) = Namespace::replicated().await else {
        return;
    };
    let members = Members::get(&ns);
    if !local_sessions() {
        eprintln!("skipped: a real read-only member needs ZK_REF_LOCAL_SESSIONS=yes");
        return;
    }
    let lone = format!("{}{}", members.addrs[0], ns.root);
    let rw = Client::builder(lone.clone())
        .read_only(true)
        .session_timeout(Duration::from_secs(4))
        .connect()
        .await
        .unwrap();
    assert_eq!(rw.state(), ConnectionState::Connected);
    rw.create("/data", "v1", CreateMode::Persistent)
        .await
        .unwrap();
    // Members 2 and 3 stop: member 1 looks for a leader, then turns read-only.
    members.kill(2).await;
    members.kill(3).await;
    within("member 1 read-only", isro(&members.addrs[0], "ro")).await;
    let ro = within(
        "a read-only session",
        Client::builder(lone.clone())
            .read_only(true)
            .session_timeout(Duration::from_secs(4))
            .connect(),
    )
    .await
    .unwrap();
    assert_eq!(ro.state(), ConnectionState::ReadOnly);
    assert_eq!(ro.get_data("/data").await.unwrap().0.as_ref(), b"v1");
    for err in [
        ro.set_data("/data", "v2", None).await.unwrap_err(),
        ro.create("/other", "", CreateMode::Persistent)
            .await
            .unwrap_err(),
        ro.sync("/").await.unwrap_err(),
    ] {
        assert!(err.is(ErrorCode::NotReadOnly), "{err}");
    }
    // The session created read-write is global: a read-only member refuses
    // to reattach it, so that client stays disconnected.
    assert_eq!(rw.state(), ConnectionState::Suspended);
    drop(rw);

    let read_only_session = ro.session_id();
    members.start(2).await;
    members.start(3).await;
    within(
        "read-write again",
        ro.wait_for_state(|s| s == ConnectionState::Connected),
    )
    .await;
    // A client that never saw a read-write member starts a new session.
    assert_ne!(ro.session_id(), read_only_session);
    ro.set_data("/data", "v2", None).await.unwrap();
    assert_eq!(ro.get_data("/data").await.unwrap().0.as_ref(), b"v2");
}
