//! Observers: non-voting members that sync with the leader, serve reads,
//! forward writes and answer as ZooKeeper's observers do, but never lead
//! and never count towards a quorum.

mod common;

use common::cluster::{builder, client_of, within};
use common::four_letter;
use std::time::Duration;
use zk_client::ensemble_config::{EnsembleConfig, ServerRole};
use zk_client::CreateMode;
use zk_testserver::zab::Role;
use zk_testserver::Ensemble;

/// The voters other than `leader`.
fn other_voters(zk: &Ensemble, leader: u64) -> Vec<u64> {
    zk.voters().into_iter().filter(|&m| m != leader).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_of_an_observer_reads_and_writes() {
    let zk = builder(3)
        .observers(2)
        .four_letter_words(zk_testserver::FourLetterWords::all())
        .start()
        .await
        .expect("start");
    assert_eq!(zk.voters(), vec![1, 2, 3]);
    assert_eq!(zk.observers(), vec![4, 5]);

    // The observer forwards the write and serves the read.
    let c = client_of(&zk, 4).await;
    c.create("/o", "1", CreateMode::Persistent).await.unwrap();
    assert_eq!(c.get_data("/o").await.unwrap().0.as_ref(), b"1");
    // A voter sees it, and so does the other observer.
    let v = client_of(&zk, 1).await;
    v.sync("/o").await.unwrap();
    assert_eq!(v.get_data("/o").await.unwrap().0.as_ref(), b"1");
    let o = client_of(&zk, 5).await;
    o.sync("/o").await.unwrap();
    assert_eq!(o.get_data("/o").await.unwrap().0.as_ref(), b"1");

    // It answers the four-letter words as an observer.
    let addr = zk.addr(4).unwrap().to_string();
    let srvr = four_letter(&addr, "srvr").await;
    assert!(srvr.contains("Mode: observer\n"), "{srvr}");
    let mntr = four_letter(&addr, "mntr").await;
    assert!(mntr.contains("zk_server_state\tobserver\n"), "{mntr}");
    assert!(
        mntr.contains("zk_peer_state\tobserving - broadcast\n"),
        "{mntr}"
    );
    assert!(mntr.contains("zk_quorum_size\t3\n"), "{mntr}");
    // The leader counts them apart from its voting followers.
    let leader = zk.wait_for_quorum().await.unwrap();
    zk.wait_until_converged().await.unwrap();
    let mntr = four_letter(&zk.addr(leader).unwrap().to_string(), "mntr").await;
    for line in [
        "zk_learners\t4\n",
        "zk_synced_followers\t2\n",
        "zk_synced_observers\t2\n",
    ] {
        assert!(mntr.contains(line), "{line:?} missing: {mntr}");
    }

    // /zookeeper/config names the observers as ZooKeeper writes them.
    let (raw, _) = c.get_config().await.unwrap();
    let text = String::from_utf8(raw.to_vec()).unwrap();
    assert!(
        text.contains("server.4=") && text.contains(":observer;"),
        "{text}"
    );
    let config = EnsembleConfig::from_bytes(&raw).unwrap();
    let roles: Vec<ServerRole> = config.servers.iter().map(|s| s.role).collect();
    assert_eq!(
        roles,
        [
            ServerRole::Participant,
            ServerRole::Participant,
            ServerRole::Participant,
            ServerRole::Observer,
            ServerRole::Observer
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_every_observer_keeps_the_quorum() {
    // More observers than voters: counted as voters, losing them would
    // lose the majority.
    let zk = builder(3).observers(3).start().await.expect("start");
    let leader = zk.wait_for_quorum().await.unwrap();
    let epoch = zk.status(leader).unwrap().epoch;
    for o in zk.observers() {
        zk.kill(o).await.unwrap();
    }
    let c = client_of(&zk, leader).await;
    within("a write", c.create("/w", "", CreateMode::Persistent))
        .await
        .unwrap();
    // No election happened: the same leader, in the same epoch.
    let s = zk.status(leader).unwrap();
    assert_eq!((s.role, s.serving, s.epoch), (Role::Leading, true, epoch));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_commits_with_only_the_participant_quorum() {
    // Two of three voters are a quorum; with the observers down and
    // counted, two of six would not be.
    let zk = builder(3).observers(3).start().await.expect("start");
    let leader = zk.wait_for_quorum().await.unwrap();
    for o in zk.observers() {
        zk.kill(o).await.unwrap();
    }
    zk.kill(other_voters(&zk, leader)[0]).await.unwrap();
    let c = client_of(&zk, leader).await;
    within("a write", c.create("/w", "", CreateMode::Persistent))
        .await
        .unwrap();
    assert_eq!(zk.leader(), Some(leader));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observers_neither_commit_nor_log_a_write_voters_lack() {
    let zk = builder(3).observers(2).start().await.expect("start");
    let leader = zk.wait_for_quorum().await.unwrap();
    let voters = other_voters(&zk, leader);
    let c = client_of(&zk, leader).await;
    c.create("/before", "", CreateMode::Persistent)
        .await
        .unwrap();
    zk.wait_until_converged().await.unwrap();
    let logged = |zk: &Ensemble| {
        zk.observers()
            .into_iter()
            .map(|o| zk.status(o).unwrap().last_logged_zxid)
            .collect::<Vec<_>>()
    };
    let observers_logged = logged(&zk);
    // The leader keeps its observers but loses its voters: its proposal
    // reaches only observers, whose acks must not commit it.
    zk.partition(&[&[leader, 4, 5], &voters]);
    let write = tokio::time::timeout(
        Duration::from_secs(3),
        c.create("/lost", "", CreateMode::Persistent),
    )
    .await;
    assert!(
        !matches!(write, Ok(Ok(_))),
        "a write committed without a voter quorum"
    );
    // Observers learn a proposal only once it commits (INFORM).
    assert_eq!(
        logged(&zk),
        observers_logged,
        "an observer logged an uncommitted proposal"
    );
    // The voters elect one of themselves; /lost is not there.
    let next = zk.wait_for_quorum().await.unwrap();
    assert!(voters.contains(&next), "{next} leads");
    let v = client_of(&zk, next).await;
    assert!(v.exists("/lost").await.unwrap().is_none());
    assert!(v.exists("/before").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observer_stops_serving_writes_without_a_participant_quorum() {
    // One voter and two observers are three of five members, but not a
    // quorum of the three voters.
    let zk = builder(3).observers(2).start().await.expect("start");
    let c = client_of(&zk, 4).await;
    c.create("/o", "1", CreateMode::Persistent).await.unwrap();
    // Keep one voter (the leader, unless an observer wrongly leads).
    let leader = zk.wait_for_quorum().await.unwrap();
    let keep = if zk.voters().contains(&leader) {
        leader
    } else {
        1
    };
    let down = other_voters(&zk, keep);
    for &v in &down {
        zk.kill(v).await.unwrap();
    }
    zk.wait_for_status("nobody serves", |all| {
        all.iter().all(|m| !m.serving && m.role != Role::Leading)
    })
    .await
    .unwrap();
    let write = tokio::time::timeout(Duration::from_secs(2), c.set_data("/o", "2", None)).await;
    assert!(
        !matches!(write, Ok(Ok(_))),
        "an observer served a write without a quorum"
    );
    // A second voter back: a voter leads, and the observer writes again.
    zk.restart(down[0]).await.unwrap();
    let next = zk.wait_for_quorum().await.unwrap();
    assert!(next <= 3, "observer {next} leads");
    zk.wait_for_status("the observer serves", |all| all[3].serving)
        .await
        .unwrap();
    let c = client_of(&zk, 4).await;
    within("a write", c.set_data("/o", "3", None))
        .await
        .unwrap();
    assert_eq!(c.get_data("/o").await.unwrap().0.as_ref(), b"3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observer_never_becomes_leader() {
    // Observers have the highest ids, so with equal histories a vote for
    // one would beat every voter's.
    let zk = builder(3).observers(2).start().await.expect("start");
    let c = client_of(&zk, 5).await;
    for i in 0..2 {
        let leader = zk.wait_for_quorum().await.unwrap();
        assert!(zk.voters().contains(&leader), "observer {leader} leads");
        c.create(&format!("/n{i}"), "", CreateMode::Persistent)
            .await
            .unwrap();
        // The leader crashes; the survivors elect again.
        zk.kill(leader).await.unwrap();
        let next = zk.wait_for_quorum().await.unwrap();
        assert!(zk.voters().contains(&next), "observer {next} leads");
        zk.wait_for_status("observers follow", |all| {
            all[3..]
                .iter()
                .all(|o| o.serving && o.role == Role::Following && o.leader == Some(next))
        })
        .await
        .unwrap();
        zk.restart(leader).await.unwrap();
        zk.wait_until_converged().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_observer_catches_up() {
    let zk = builder(3).observers(1).start().await.expect("start");
    let c = client_of(&zk, 1).await;
    zk.partition(&[&[1, 2, 3], &[4]]);
    for i in 0..20 {
        c.create(&format!("/n{i}"), "", CreateMode::Persistent)
            .await
            .unwrap();
    }
    zk.heal();
    let digest = within("converged", zk.wait_until_converged())
        .await
        .unwrap();
    assert_eq!(zk.digest(4).await.unwrap(), digest);
}
