//! Dynamic reconfiguration against a real ZooKeeper 3.9 ensemble started
//! with `ZK_REF_RECONFIG=yes` (`conformance.sh` step `reconfig-ensemble`):
//! the version guard and the superuser rule, then add a member, remove a
//! follower, change a member's client port and remove the leader, while a
//! client following `/zookeeper/config` keeps its session and a writer loses
//! no acknowledged write.

use crate::common::{within, Namespace};
use std::collections::BTreeSet;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use zk_client::ensemble_config::EnsembleConfig;
use zk_client::{Client, ConnectionState, CreateMode, ErrorCode, Reconfig};

/// The reference script of the reconfig-enabled real ensemble this test
/// drives (it starts, stops and joins members through it).
fn script() -> String {
    let reconfig = std::env::var("ZK_REF_RECONFIG").as_deref() == Ok("yes");
    let ensemble = std::env::var("ZK_REFERENCE").as_deref() == Ok("ensemble");
    match (reconfig && ensemble, std::env::var("ZK_REFERENCE_SCRIPT")) {
        (true, Ok(s)) => s,
        _ => panic!(
            "needs a real ensemble with ZK_REF_RECONFIG=yes and its script \
             (run it with scripts/conformance.sh reconfig-ensemble)"
        ),
    }
}

/// Runs the reference script off the runtime's threads; returns its stdout.
async fn run(script: &str, args: &[&str]) -> String {
    let script = script.to_string();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = Command::new("bash")
            .arg(&script)
            .args(&args)
            .output()
            .expect("run reference script");
        assert!(
            out.status.success(),
            "zk-reference.sh {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    })
    .await
    .expect("script task")
}

fn super_credentials() -> String {
    std::env::var("ZK_REFERENCE_SUPER_AUTH").unwrap_or_else(|_| "super:superpw".into())
}

/// Creates sequential nodes until stopped, recording every acknowledged one.
fn writer(client: Client) -> (Arc<Mutex<BTreeSet<String>>>, tokio::task::JoinHandle<()>) {
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let sink = acked.clone();
    let task = tokio::spawn(async move {
        loop {
            match client
                .create("/w-", "", CreateMode::PersistentSequential)
                .await
            {
                Ok((path, _)) => {
                    sink.lock().unwrap().insert(path);
                }
                Err(e) if e.is_closed() => return,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    (acked, task)
}

async fn leader(script: &str) -> u64 {
    run(script, &["leader"]).await.parse().expect("leader id")
}

fn ids(c: &EnsembleConfig) -> Vec<u64> {
    c.servers.iter().map(|s| s.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a reconfig-enabled real ZooKeeper 3.9 ensemble and its script: \
            scripts/conformance.sh reconfig-ensemble runs it"]
async fn members_join_leave_and_move_while_clients_follow() {
    let script = script();
    let ns = Namespace::new().await;
    let connect = ns.target.connect.clone();
    let admin = Client::builder(&connect)
        .session_timeout(Duration::from_secs(4))
        .connect()
        .await
        .unwrap();
    let v0 = admin.ensemble_config().await.unwrap();
    assert_eq!(ids(&v0), vec![1, 2, 3]);
    // Only the superuser may reconfigure.
    let err = admin
        .reconfig(&Reconfig::new().remove_server(3))
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::NoAuth), "{err}");
    admin.add_auth("digest", super_credentials()).await.unwrap();
    // The version guard.
    let err = admin
        .reconfig(&Reconfig::new().remove_server(3).if_version(v0.version + 1))
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::BadVersion), "{err}");

    // A client pinned to member 1 by its connect string, following the
    // configuration; a writer on the whole ensemble.
    let first = ns.target.connect.split(',').next().unwrap().to_string();
    let follower = Client::builder(format!("{first}{}", ns.root))
        .session_timeout(Duration::from_secs(4))
        .connect()
        .await
        .unwrap();
    let session = follower.session_id();
    let mut tracker = follower.follow_ensemble();
    let seen = within("first config", tracker.wait_for_change(-1))
        .await
        .unwrap();
    assert_eq!(seen.version, v0.version);
    let mut states = follower.state_stream();
    let (acked, writing) = writer(follower.clone());

    // Add member 4: start it with the ensemble and itself, then add it.
    run(&script, &["join", "4"]).await;
    let line4 = |port_offset: u16| {
        let s1 = v0.server(1).unwrap();
        format!(
            "server.4={}:{}:{}:participant;{}:{}",
            s1.host,
            s1.quorum_port + 3,
            s1.election_port + 3,
            s1.host,
            s1.client.as_ref().unwrap().1 + 3 + port_offset
        )
    };
    let (v1, _) = admin
        .reconfig(&Reconfig::new().add_server(line4(0)).if_version(v0.version))
        .await
        .unwrap();
    assert_eq!(ids(&v1), vec![1, 2, 3, 4]);
    let seen = within("config v1", tracker.wait_for_change(v0.version))
        .await
        .unwrap();
    assert_eq!(seen.version, v1.version);
    assert_eq!(seen.client_hosts().len(), 4);

    // Remove a follower: member 1 (where the following client is) unless it
    // leads; then it goes with the leader below. Either way that client
    // must move to a member its followed host list names.
    let lead = leader(&script).await;
    let gone = [1, 2, 3, 4].into_iter().find(|m| *m != lead).unwrap();
    let (v2, _) = admin
        .reconfig(&Reconfig::new().remove_server(gone))
        .await
        .unwrap();
    assert!(!ids(&v2).contains(&gone));
    let seen = within("config v2", tracker.wait_for_change(v1.version))
        .await
        .unwrap();
    assert_eq!(seen.client_hosts().len(), 3);

    // Member 4 moves its client port (ZooKeeper rebinds at runtime).
    let (v3, _) = admin
        .reconfig(&Reconfig::new().add_server(line4(10)))
        .await
        .unwrap();
    let moved = v3.server(4).map(|s| s.client_address());
    let seen = within("config v3", tracker.wait_for_change(v2.version))
        .await
        .unwrap();
    assert_eq!(seen.server(4).map(|s| s.client_address()), moved);
    let port = moved.flatten().unwrap().1;
    let on_new_port = Client::builder(format!("127.0.0.1:{port}"))
        .connect()
        .await
        .unwrap();
    on_new_port.get_data("/").await.unwrap();
    on_new_port.close().await.unwrap();

    // Remove the leader: the others elect a new one.
    // The leader closes its connections once the change commits, so the
    // reply may be lost; the configuration then says whether it applied.
    let lead = leader(&script).await;
    let v4 = match admin.reconfig(&Reconfig::new().remove_server(lead)).await {
        Ok((v4, _)) => v4,
        Err(e) if e.is_connection_loss() => {
            within("the leader removed", async {
                loop {
                    if let Ok(c) = admin.ensemble_config().await {
                        if c.version != v3.version {
                            return c;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
            .await
        }
        Err(e) => panic!("{e}"),
    };
    assert!(!ids(&v4).contains(&lead));
    let seen = within("config v4", tracker.wait_for_change(v3.version))
        .await
        .unwrap();
    assert_eq!(seen.servers.len(), ids(&v4).len());

    // The follower's session survived everything; no acknowledged write lost.
    follower.sync("/").await.unwrap();
    writing.abort();
    assert_eq!(follower.session_id(), session);
    let at = follower.connected_server().expect("connected");
    assert_ne!(
        Some(at.to_string()),
        Some(first.clone()),
        "still on removed member 1"
    );
    while let Ok(Some(state)) =
        tokio::time::timeout(Duration::ZERO, futures::StreamExt::next(&mut states)).await
    {
        assert_ne!(state, ConnectionState::Lost);
    }
    let written = acked.lock().unwrap().clone();
    assert!(
        written.len() > 10,
        "the writer made progress: {}",
        written.len()
    );
    let children: BTreeSet<String> = follower
        .get_children("/")
        .await
        .unwrap()
        .into_iter()
        .map(|c| format!("/{c}"))
        .collect();
    let lost: Vec<&String> = written.difference(&children).collect();
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
}
