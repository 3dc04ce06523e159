//! Dynamic reconfiguration: the version guard and the superuser rule, then
//! add a member, remove a follower, change a member's client port and
//! remove the leader, while a client following `/zookeeper/config` keeps
//! its session and a writer loses no acknowledged write.
//!
//! The same test runs against two servers ([`Cluster`]): a real ZooKeeper
//! ensemble started with `ZK_REF_RECONFIG=yes` (`conformance.sh` step
//! `reconfig-ensemble`), whose fourth member the reference script starts,
//! and, under plain `cargo test`, an in-process zk-testserver ensemble with
//! reconfig on and a spare member 4 already running.

use crate::common::{embedded_builder, within, Namespace, Target};
use std::collections::BTreeSet;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use zk_client::ensemble_config::{EnsembleConfig, ServerRole, ServerSpec};
use zk_client::{Client, ConnectionState, CreateMode, ErrorCode, Reconfig};

/// The reconfig-enabled ensemble under test and how its members are driven.
enum Cluster {
    /// Real ZooKeeper run by the reference script at this path.
    Real(String),
    /// The namespace's in-process ensemble (member 4 is a spare).
    Embedded,
}

impl Cluster {
    /// A namespace on a reconfig-enabled ensemble: the real one the
    /// conformance step started, or a fresh in-process one without
    /// `ZK_CONNECT`. None (saying why) against any other real server.
    async fn namespace() -> Option<(Namespace, Cluster)> {
        if std::env::var("ZK_CONNECT").is_ok_and(|c| !c.is_empty()) {
            let reconfig = std::env::var("ZK_REF_RECONFIG").as_deref() == Ok("yes");
            let ensemble = std::env::var("ZK_REFERENCE").as_deref() == Ok("ensemble");
            let Ok(script) = std::env::var("ZK_REFERENCE_SCRIPT") else {
                eprintln!("not run: a real server needs ZK_REFERENCE_SCRIPT");
                return None;
            };
            if !(reconfig && ensemble) {
                eprintln!(
                    "not run here: needs a real ensemble with ZK_REF_RECONFIG=yes \
                     (scripts/conformance.sh reconfig-ensemble runs it)"
                );
                return None;
            }
            return Some((Namespace::new().await, Cluster::Real(script)));
        }
        let builder = embedded_builder(3).reconfig_enabled(true).spares(1);
        let ns = Namespace::on(Target::embedded_from(builder).await).await;
        Some((ns, Cluster::Embedded))
    }

    /// Gets member 4 running and synced, ready to be added.
    async fn start_member_4(&self) {
        match self {
            Cluster::Real(script) => {
                run(script, &["join", "4"]).await;
            }
            // The spare runs and syncs from the start.
            Cluster::Embedded => {}
        }
    }

    /// Member 4's `server.4=` spec: beside member 1 (`v0`'s) on the real
    /// ensemble, the spare's own on the in-process one.
    fn member_4(&self, ns: &Namespace, v0: &EnsembleConfig) -> ServerSpec {
        match self {
            Cluster::Real(_) => {
                let s1 = v0.server(1).expect("member 1 in the configuration");
                ServerSpec {
                    id: 4,
                    host: s1.host.clone(),
                    quorum_port: s1.quorum_port + 3,
                    election_port: s1.election_port + 3,
                    role: ServerRole::Participant,
                    client: s1.client.as_ref().map(|(h, p)| (h.clone(), p + 3)),
                }
            }
            Cluster::Embedded => {
                let line = embedded(ns).server_line(4).expect("spare member 4");
                let parsed = EnsembleConfig::parse(&line).expect("a server line");
                parsed.servers[0].clone()
            }
        }
    }

    /// A free client port to move a member to.
    fn new_client_port(&self, from: u16) -> u16 {
        match self {
            // The reference ensemble's ports are spaced out for this.
            Cluster::Real(_) => from + 10,
            Cluster::Embedded => std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port(),
        }
    }

    /// The member that leads now.
    async fn leader(&self, ns: &Namespace) -> u64 {
        match self {
            Cluster::Real(script) => run(script, &["leader"]).await.parse().expect("leader id"),
            Cluster::Embedded => embedded(ns).wait_for_leader().await.expect("a leader"),
        }
    }
}

fn embedded(ns: &Namespace) -> &zk_testserver::Ensemble {
    ns.target.embedded.as_ref().expect("an in-process ensemble")
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

/// Acknowledged writes: the paths, and how many so far.
struct Written {
    paths: Arc<Mutex<BTreeSet<String>>>,
    count: watch::Receiver<usize>,
}

impl Written {
    /// Waits until `n` more writes are acknowledged (the writer goes on
    /// through every change, on either server however fast).
    async fn more(&mut self, n: usize, what: &str) {
        let target = *self.count.borrow() + n;
        within(what, self.count.wait_for(|c| *c >= target))
            .await
            .expect("the writer runs");
    }
}

/// Creates sequential nodes until stopped, recording every acknowledged one.
fn writer(client: Client) -> (Written, tokio::task::JoinHandle<()>) {
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let sink = acked.clone();
    let (count, counted) = watch::channel(0);
    let task = tokio::spawn(async move {
        loop {
            match client
                .create("/w-", "", CreateMode::PersistentSequential)
                .await
            {
                Ok((path, _)) => {
                    sink.lock().unwrap().insert(path);
                    count.send_modify(|n| *n += 1);
                }
                Err(e) if e.is_closed() => return,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let written = Written {
        paths: acked,
        count: counted,
    };
    (written, task)
}

fn ids(c: &EnsembleConfig) -> Vec<u64> {
    c.servers.iter().map(|s| s.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_join_leave_and_move_while_clients_follow() {
    let Some((ns, cluster)) = Cluster::namespace().await else {
        return;
    };
    let connect = ns.target.connect.clone();
    let admin = Client::builder(&connect)
        .session_timeout(Duration::from_secs(4))
        .connect()
        .await
        .unwrap();
    let v0 = admin.ensemble_config().await.unwrap();
    assert_eq!(ids(&v0), vec![1, 2, 3]);
    // A fresh reconfig-enabled ensemble's version: the zxid its first
    // leader started from.
    assert_eq!(v0.version, 0x1_0000_0000);
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
    let (mut written, writing) = writer(follower.clone());
    written.more(3, "writes before any change").await;

    // Add member 4: start it with the ensemble and itself, then add it.
    cluster.start_member_4().await;
    let mut spec4 = cluster.member_4(&ns, &v0);
    let (v1, _) = admin
        .reconfig(
            &Reconfig::new()
                .add_server(spec4.to_string())
                .if_version(v0.version),
        )
        .await
        .unwrap();
    assert_eq!(ids(&v1), vec![1, 2, 3, 4]);
    written.more(3, "writes after member 4 joined").await;
    let seen = within("config v1", tracker.wait_for_change(v0.version))
        .await
        .unwrap();
    assert_eq!(seen.version, v1.version);
    assert_eq!(seen.client_hosts().len(), 4);

    // Remove a follower: member 1 (where the following client is) unless it
    // leads; then it goes with the leader below. Either way that client
    // must move to a member its followed host list names.
    let lead = cluster.leader(&ns).await;
    let gone = [1, 2, 3, 4].into_iter().find(|m| *m != lead).unwrap();
    let (v2, _) = admin
        .reconfig(&Reconfig::new().remove_server(gone))
        .await
        .unwrap();
    assert!(!ids(&v2).contains(&gone));
    written.more(3, "writes after a follower left").await;
    let seen = within("config v2", tracker.wait_for_change(v1.version))
        .await
        .unwrap();
    assert_eq!(seen.client_hosts().len(), 3);

    // Member 4 moves its client port (ZooKeeper rebinds at runtime).
    let client4 = spec4.client.as_mut().expect("member 4's client address");
    client4.1 = cluster.new_client_port(client4.1);
    let (v3, _) = admin
        .reconfig(&Reconfig::new().add_server(spec4.to_string()))
        .await
        .unwrap();
    let moved = v3.server(4).map(|s| s.client_address());
    written.more(3, "writes after member 4 moved").await;
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
    let lead = cluster.leader(&ns).await;
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
    written.more(3, "writes after the leader left").await;
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
    let written = written.paths.lock().unwrap().clone();
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
