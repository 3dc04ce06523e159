//! Regression tests of known ZooKeeper bugs on the real in-process ensemble,
//! with failpoints (the same scenarios run deterministically in the
//! simulator: `zk_testserver::sim` tests `zk_2355`, `zk_3642`, `zk_3911`,
//! `zk_trunc`).

mod common;

use common::cluster::*;
use std::time::Duration;
use zk_client::{Client, CreateMode};
use zk_testserver::check::members::check_digests;
use zk_testserver::failpoint::{Action, Failpoint};
use zk_testserver::Ensemble;

/// Every member's view, taken once the ensemble is quiescent (retaken if
/// a late transaction, such as a closing client's, slipped in between).
async fn views(zk: &Ensemble) -> Vec<zk_testserver::check::MemberView> {
    loop {
        zk.wait_until_converged().await.expect("converged");
        let mut out = Vec::new();
        for m in zk.members() {
            out.push(zk.view(m).await.expect("view"));
        }
        if out.iter().all(|v| v.last_zxid == out[0].last_zxid) {
            return out;
        }
    }
}

fn ephemeral_on(views: &[zk_testserver::check::MemberView], path: &str) -> Vec<u64> {
    views
        .iter()
        .filter(|v| v.ephemerals.contains_key(path))
        .map(|v| v.id)
        .collect()
}

fn followers(zk: &Ensemble, leader: u64) -> Vec<u64> {
    zk.members().into_iter().filter(|m| *m != leader).collect()
}

async fn wait_running(zk: &Ensemble, member: u64, running: bool) {
    zk.wait_for_status("a member to stop or start", |s| {
        s[(member - 1) as usize].running == running
    })
    .await
    .expect("member state");
}

/// ZOOKEEPER-2355: a follower fails right after reading the PROPOSAL of a
/// closeSession (dropping it, as after a socket timeout) and rejoins with its
/// memory; the ephemeral of the closed session must go on it too, and a
/// second incarnation of the node must go when its session closes.
#[tokio::test]
async fn zookeeper_2355_ephemeral_gone_after_a_follower_fails_on_close_session() {
    let zk = builder(3).start().await.unwrap();
    // The scenario needs the member with the failpoint to stay a follower
    // until the closeSession is proposed: on a loaded machine an election
    // may move the leadership first, and then the failpoint cannot fire;
    // the scenario is run again with a new session.
    let faulty = loop {
        let leader = zk.wait_for_quorum().await.unwrap();
        let epoch = zk.status(leader).unwrap().epoch;
        let f = followers(&zk, leader);
        let (home, faulty) = (f[0], f[1]);
        let c = client_of(&zk, home).await;
        c.create("/e1", "1", CreateMode::Ephemeral).await.unwrap();
        zk.wait_until_converged().await.unwrap();
        zk.set_failpoint(faulty, Failpoint::CloseSessionProposal, Action::Rejoin)
            .await
            .unwrap();
        c.close().await.unwrap();
        zk.wait_for_status("the failpoint to fire or a new epoch", |s| {
            s[(faulty - 1) as usize].failpoint_hits == 1 || s.iter().any(|m| m.epoch > epoch)
        })
        .await
        .unwrap();
        if zk.status(faulty).unwrap().failpoint_hits == 1 {
            break faulty;
        }
        zk.clear_failpoint(faulty, Failpoint::CloseSessionProposal)
            .await
            .unwrap();
    };
    zk.wait_until_converged().await.unwrap();
    let v = views(&zk).await;
    assert!(
        ephemeral_on(&v, "/e1").is_empty(),
        "{:?}",
        ephemeral_on(&v, "/e1")
    );
    // Again with another session, on the leader.
    let c2 = client_of(&zk, zk.wait_for_leader().await.unwrap()).await;
    c2.create("/e1", "2", CreateMode::Ephemeral).await.unwrap();
    c2.close().await.unwrap();
    zk.wait_until_converged().await.unwrap();
    let v = views(&zk).await;
    assert!(
        ephemeral_on(&v, "/e1").is_empty(),
        "{:?}",
        ephemeral_on(&v, "/e1")
    );
    check_digests(&v).unwrap();
    assert!(zk.status(faulty).unwrap().syncs.diff >= 2, "resynced");
}

/// ZOOKEEPER-3642: the leader crashes right after sending a SNAP; the
/// learner is then resynced by DIFF from the snapshot's zxid by the next
/// leader; when it later restarts (with only the crashed old leader beside
/// it) every write from before the snapshot must still be there.
#[tokio::test]
async fn zookeeper_3642_snapshot_survives_a_leader_crash_after_snap() {
    let zk = builder(3).diff_retention(5).start().await.unwrap();
    let a = zk.wait_for_quorum().await.unwrap();
    let f = followers(&zk, a);
    // The learner has the lower id, so the other follower wins the next
    // election on equal zxids and resyncs it.
    let (c, b) = (f[0].min(f[1]), f[0].max(f[1]));
    zk.kill(c).await.unwrap();
    let w = client(&zk).await;
    for i in 0..30 {
        w.create(&format!("/w{i}"), "", CreateMode::Persistent)
            .await
            .unwrap();
    }
    zk.set_failpoint(a, Failpoint::SnapSent, Action::Crash)
        .await
        .unwrap();
    zk.restart(c).await.unwrap();
    wait_running(&zk, a, false).await;
    zk.wait_for_status("b and c to serve", |s| {
        s[(b - 1) as usize].serving && s[(c - 1) as usize].serving
    })
    .await
    .unwrap();
    assert!(zk.status(c).unwrap().syncs.snap >= 1);
    for i in 0..10 {
        within(
            "a write on b and c",
            w.create(&format!("/v{i}"), "", CreateMode::Persistent),
        )
        .await
        .unwrap();
    }
    zk.kill(b).await.unwrap();
    zk.kill(c).await.unwrap();
    zk.restart(c).await.unwrap();
    zk.restart(a).await.unwrap();
    zk.wait_for_status("a and c to serve", |s| {
        s[(a - 1) as usize].serving && s[(c - 1) as usize].serving
    })
    .await
    .unwrap();
    let r = client_of(&zk, c).await;
    for p in (0..30)
        .map(|i| format!("/w{i}"))
        .chain((0..10).map(|i| format!("/v{i}")))
    {
        assert!(r.exists(&p).await.unwrap().is_some(), "{p} lost");
    }
    zk.restart(b).await.unwrap();
    zk.wait_until_converged().await.unwrap();
    check_digests(&views(&zk).await).unwrap();
}

/// ZOOKEEPER-3911: followers synced by DIFF with a proposal only the leader
/// had logged ACK NEWLEADER and fail at once; the leader commits it; with
/// the leader gone, the two followers must still have it.
#[tokio::test]
async fn zookeeper_3911_diff_is_durable_before_the_newleader_ack() {
    let zk = builder(3).start().await.unwrap();
    let a = zk.wait_for_quorum().await.unwrap();
    let f = followers(&zk, a);
    let c = client_of(&zk, a)
        .await
        .with_deadline(Duration::from_secs(1));
    c.create("/base", "", CreateMode::Persistent).await.unwrap();
    let before = zk.status(a).unwrap().last_logged_zxid;
    // Cut the followers off (a kill would reset the leader's links and make
    // it give up at once); the create is logged on the leader only.
    zk.partition(&[&[a], &f]);
    let pending = tokio::spawn(async move { c.create("/zk", "", CreateMode::Persistent).await });
    zk.wait_for_status("the create logged on the leader", |s| {
        s[(a - 1) as usize].last_logged_zxid > before
    })
    .await
    .unwrap();
    let zk_zxid = zk.status(a).unwrap().last_logged_zxid;
    for &m in &f {
        zk.kill(m).await.unwrap();
    }
    zk.heal();
    let _ = pending.await;
    for &m in &f {
        zk.set_failpoint(m, Failpoint::AfterNewLeaderAck, Action::Crash)
            .await
            .unwrap();
        zk.restart(m).await.unwrap();
    }
    zk.wait_for_status("the leader to commit /zk", |s| {
        s[(a - 1) as usize].last_committed_zxid >= zk_zxid
    })
    .await
    .unwrap();
    for &m in &f {
        wait_running(&zk, m, false).await;
    }
    zk.kill(a).await.unwrap();
    for &m in &f {
        zk.restart(m).await.unwrap();
    }
    zk.wait_for_status("the followers to serve", |s| {
        f.iter().all(|&m| s[(m - 1) as usize].serving)
    })
    .await
    .unwrap();
    for &m in &f {
        let r = client_of(&zk, m).await;
        assert!(
            r.exists("/zk").await.unwrap().is_some(),
            "member {m} lost /zk"
        );
    }
    zk.restart(a).await.unwrap();
    zk.wait_until_converged().await.unwrap();
    check_digests(&views(&zk).await).unwrap();
}

/// An interrupted TRUNC: a leader cut off with proposals nobody else has
/// rejoins, truncates them, and crashes right after; it must come back
/// without them and converge.
#[tokio::test]
async fn truncation_interrupted_by_a_crash_stays_truncated() {
    let zk = builder(3).start().await.unwrap();
    let a = zk.wait_for_quorum().await.unwrap();
    let f = followers(&zk, a);
    let c = client_of(&zk, a)
        .await
        .with_deadline(Duration::from_secs(1));
    c.create("/t0", "", CreateMode::Persistent).await.unwrap();
    let before = zk.status(a).unwrap().last_logged_zxid;
    zk.partition(&[&[a], &f]);
    let lost = tokio::spawn(async move {
        for i in 1..=3 {
            let _ = c
                .create(&format!("/u{i}"), "", CreateMode::Persistent)
                .await;
        }
    });
    zk.wait_for_status("the writes logged on the cut-off leader", |s| {
        s[(a - 1) as usize].last_logged_zxid > before
    })
    .await
    .unwrap();
    zk.wait_for_status("a new leader", |s| {
        s.iter()
            .any(|m| m.id != a && m.serving && m.leader == Some(m.id))
    })
    .await
    .unwrap();
    let _ = lost.await;
    let w = Client::builder(
        f.iter()
            .map(|m| zk.addr(*m).unwrap().to_string())
            .collect::<Vec<_>>()
            .join(","),
    )
    .connect()
    .await
    .unwrap();
    for i in 1..=5 {
        w.create(&format!("/v{i}"), "", CreateMode::Persistent)
            .await
            .unwrap();
    }
    zk.set_failpoint(a, Failpoint::AfterTrunc, Action::Crash)
        .await
        .unwrap();
    zk.heal();
    wait_running(&zk, a, false).await;
    zk.restart(a).await.unwrap();
    zk.wait_until_converged().await.unwrap();
    for m in zk.members() {
        let r = client_of(&zk, m).await;
        for i in 1..=3 {
            assert!(r.exists(&format!("/u{i}")).await.unwrap().is_none());
        }
        for i in 1..=5 {
            assert!(r.exists(&format!("/v{i}")).await.unwrap().is_some());
        }
    }
    check_digests(&views(&zk).await).unwrap();
}
