//! Failover against a multi-member ensemble: members killed under the
//! client, sessions kept across members, watches kept across reconnects, and
//! session loss when no member is reachable.
//!
//! These need an ensemble whose members the test can stop and start
//! ([`Namespace::replicated`]): under plain `cargo test` a fresh 3-member
//! in-process `zk_testserver::Ensemble`; in the conformance run a real
//! ZooKeeper ensemble run by `scripts/zk-reference.sh`
//! (`ZK_REFERENCE=ensemble` with `ZK_REFERENCE_SCRIPT`). Against a real
//! standalone server they do not run (the ensemble step runs them).

use crate::common::{within, Namespace};
use futures::StreamExt;
use std::time::Duration;
use zk_client::{AddWatchMode, Client, ConnectionState, CreateMode, EventType, WatchEvent};

/// Controls the members of the ensemble under test.
enum Control<'a> {
    /// Real ZooKeeper, through the reference script.
    Script(String),
    /// The in-process ensemble.
    Embedded(&'a zk_testserver::Ensemble),
}

/// The members of the ensemble under test (numbered from 1).
pub(crate) struct Members<'a> {
    control: Control<'a>,
    pub(crate) addrs: Vec<String>,
}

impl<'a> Members<'a> {
    /// The members of a namespace from [`Namespace::replicated`].
    pub(crate) fn get(ns: &'a Namespace) -> Members<'a> {
        let addrs = ns.target.connect.split(',').map(str::to_string).collect();
        let control = match &ns.target.embedded {
            Some(ensemble) if ensemble.members().len() > 1 => Control::Embedded(ensemble),
            _ if ns.target.is_real_ensemble() => Control::Script(
                std::env::var("ZK_REFERENCE_SCRIPT")
                    .expect("ZK_REFERENCE=ensemble needs ZK_REFERENCE_SCRIPT"),
            ),
            _ => panic!("Members::get needs a replicated namespace (Namespace::replicated)"),
        };
        Members { control, addrs }
    }

    /// Runs the reference script without blocking the runtime: the
    /// clients under test keep running (pinging, reconnecting) meanwhile.
    async fn run(script: &str, args: &[&str]) {
        let status = tokio::process::Command::new("bash")
            .arg(script)
            .args(args)
            .status()
            .await
            .expect("run reference script");
        assert!(status.success(), "zk-reference.sh {args:?} failed");
    }

    /// The member number (1-based) serving `addr`.
    fn member_of(&self, addr: std::net::SocketAddr) -> usize {
        let port = addr.port().to_string();
        self.addrs
            .iter()
            .position(|a| a.ends_with(&format!(":{port}")))
            .map(|i| i + 1)
            .expect("connected to a member of the ensemble")
    }

    pub(crate) async fn kill(&self, member: usize) {
        match &self.control {
            Control::Script(s) => Self::run(s, &["kill", &member.to_string()]).await,
            Control::Embedded(e) => e.kill(member as u64).await.expect("kill"),
        }
    }

    /// Starts a killed member and waits until it serves.
    pub(crate) async fn start(&self, member: usize) {
        match &self.control {
            Control::Script(s) => {
                Self::run(s, &["start-member", &member.to_string()]).await;
                Self::run(s, &["wait-ready", "ensemble"]).await;
            }
            Control::Embedded(e) => {
                e.restart(member as u64).await.expect("restart");
                e.wait_for_serving(member as u64).await.expect("serving");
            }
        }
    }

    async fn kill_all(&self) {
        match &self.control {
            Control::Script(s) => Self::run(s, &["kill-all-members"]).await,
            Control::Embedded(e) => e.stop().await,
        }
    }

    /// Starts every member and waits until all serve.
    async fn start_all(&self) {
        match &self.control {
            Control::Script(s) => {
                Self::run(s, &["start-all-members"]).await;
                Self::run(s, &["wait-ready", "ensemble"]).await;
            }
            Control::Embedded(e) => e.restart_all().await.expect("restart all"),
        }
    }
}

#[tokio::test]
async fn killed_member_fails_over_with_the_same_session() {
    let Some(ns) = Namespace::replicated().await else {
        return;
    };
    let members = Members::get(&ns);
    let c = ns.client().await;
    let id = c.session_id();
    c.create("/eph", "", CreateMode::Ephemeral).await.unwrap();
    let victim = members.member_of(c.connected_server().unwrap());
    // A stream of writes spanning the failover; every acknowledged one must survive.
    let writer = c.clone();
    let (progress, mut acked_so_far) = tokio::sync::watch::channel(0usize);
    let load = tokio::spawn(async move {
        let mut acked = Vec::new();
        for i in 0..200 {
            let path = format!("/w{i}");
            match writer.create(&path, "", CreateMode::Persistent).await {
                Ok(_) => acked.push(path),
                // The first attempt was applied before the connection dropped.
                Err(e) if e.is_node_exists() && e.after_retry() => acked.push(path),
                Err(e) => panic!("write {i} failed: {e}"),
            }
            progress.send_replace(acked.len());
        }
        acked
    });
    // Kill once the load is under way.
    within("first writes", acked_so_far.wait_for(|n| *n >= 10))
        .await
        .unwrap();
    members.kill(victim).await;
    let acked = within("writes", load).await.unwrap();
    assert_eq!(acked.len(), 200);
    within(
        "reconnected",
        c.wait_for_state(|s| s == ConnectionState::Reconnected),
    )
    .await;
    assert_eq!(c.session_id(), id, "same session");
    assert_ne!(members.member_of(c.connected_server().unwrap()), victim);
    assert!(c.exists("/eph").await.unwrap().is_some(), "ephemeral kept");
    for path in &acked {
        assert!(c.exists(path).await.unwrap().is_some(), "{path} lost");
    }
    members.start(victim).await;
}

#[tokio::test]
async fn watches_fire_for_changes_made_while_disconnected() {
    let Some(ns) = Namespace::replicated().await else {
        return;
    };
    let members = Members::get(&ns);
    // Pin the client to one member so it stays disconnected while that member is down.
    let lone = members.addrs[0].clone();
    let c = Client::builder(format!("{lone}{}", ns.root))
        .session_timeout(Duration::from_secs(4))
        .connect()
        .await
        .unwrap();
    let other = Client::builder(format!("{}{}", members.addrs[1], ns.root))
        .connect()
        .await
        .unwrap();
    c.create("/data", "v0", CreateMode::Persistent)
        .await
        .unwrap();
    let (_, _, data_watch) = c.get_data_watch("/data").await.unwrap();
    let (_, child_watch) = c.get_children_watch("/").await.unwrap();
    let mut persistent = c
        .add_watch("/data", AddWatchMode::Persistent)
        .await
        .unwrap();
    let id = c.session_id();
    members.kill(1).await;
    within(
        "suspended",
        c.wait_for_state(|s| s == ConnectionState::Suspended),
    )
    .await;
    other.set_data("/data", "v1", None).await.unwrap();
    other
        .create("/new", "", CreateMode::Persistent)
        .await
        .unwrap();
    members.start(1).await;
    within(
        "reconnected",
        c.wait_for_state(|s| s == ConnectionState::Reconnected),
    )
    .await;
    assert_eq!(c.session_id(), id);
    match within("data watch", data_watch).await {
        WatchEvent::Node(e) => assert_eq!(e.event_type, EventType::NodeDataChanged),
        other => panic!("{other:?}"),
    }
    match within("child watch", child_watch).await {
        WatchEvent::Node(e) => assert_eq!(e.event_type, EventType::NodeChildrenChanged),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        within("resync", persistent.next()).await,
        Some(WatchEvent::Resync)
    );
    other.set_data("/data", "v2", None).await.unwrap();
    match within("persistent", persistent.next()).await {
        Some(WatchEvent::Node(e)) => assert_eq!(e.event_type, EventType::NodeDataChanged),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn whole_ensemble_down_past_the_timeout_loses_the_session() {
    let Some(ns) = Namespace::replicated().await else {
        return;
    };
    let members = Members::get(&ns);
    let c = ns
        .builder()
        .renew_session_on_expiry(false)
        .connect()
        .await
        .unwrap();
    let (_, _, watch) = c.get_data_watch("/").await.unwrap();
    members.kill_all().await;
    within(
        "suspended",
        c.wait_for_state(|s| s == ConnectionState::Suspended),
    )
    .await;
    let pending = {
        let c = c.clone();
        tokio::spawn(async move { c.get_data("/").await })
    };
    let state = within("lost", c.wait_for_state(|s| s.is_terminal())).await;
    assert_eq!(state, ConnectionState::Lost);
    let err = within("pending", pending).await.unwrap().unwrap_err();
    assert!(err.is_session_expired(), "typed error: {err}");
    assert_eq!(within("watch", watch).await, WatchEvent::Expired);
    members.start_all().await;
    c.start_new_session().await.unwrap();
    c.get_data("/").await.unwrap();
}
