//! Dynamic reconfiguration with the real client's `reconfig`: members added
//! (pre-started spares) and removed at runtime, the voter set the leader
//! commits by and elections decide by changing with them, and ZooKeeper's
//! rules on who may reconfigure and against which version.

mod common;

use common::cluster::{builder, client, client_of, within};
use zk_client::ensemble_config::EnsembleConfig;
use zk_client::proto::digest_id;
use zk_client::{Client, CreateMode, ErrorCode, Reconfig};
use zk_testserver::Ensemble;

const SUPER: (&str, &str) = ("super", "superpw");

/// `n` voters and `spares` spares with reconfig on and a superuser.
async fn ensemble(n: usize, spares: usize) -> Ensemble {
    builder(n)
        .spares(spares)
        .reconfig_enabled(true)
        .super_digest(digest_id(SUPER.0, SUPER.1))
        .start()
        .await
        .expect("start")
}

/// A client of the voters logged in as the superuser.
async fn admin(zk: &Ensemble) -> Client {
    let c = client(zk).await;
    c.add_auth("digest", format!("{}:{}", SUPER.0, SUPER.1))
        .await
        .unwrap();
    c
}

fn ids(c: &EnsembleConfig) -> Vec<u64> {
    c.servers.iter().map(|s| s.id).collect()
}

/// Waits until every running member in `members` has `path`.
async fn everywhere(zk: &Ensemble, members: &[u64], path: &str) {
    for &m in members {
        let c = client_of(zk, m).await;
        c.sync(path).await.unwrap();
        assert!(c.exists(path).await.unwrap().is_some(), "{path} on {m}");
        c.close().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconfig_is_disabled_by_default() {
    let zk = builder(3)
        .super_digest(digest_id(SUPER.0, SUPER.1))
        .start()
        .await
        .unwrap();
    let c = admin(&zk).await;
    let err = c
        .reconfig(&Reconfig::new().remove_server(3))
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::ReconfigDisabled), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_superuser_and_only_at_the_current_version() {
    let zk = ensemble(3, 0).await;
    let c = client(&zk).await;
    let v0 = c.ensemble_config().await.unwrap();
    let err = c
        .reconfig(&Reconfig::new().remove_server(3))
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::NoAuth), "{err}");
    c.add_auth("digest", format!("{}:{}", SUPER.0, SUPER.1))
        .await
        .unwrap();
    let err = c
        .reconfig(&Reconfig::new().remove_server(3).if_version(v0.version + 1))
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::BadVersion), "{err}");
    let err = c
        .reconfig(&Reconfig::new().add_server("server.9=nonsense"))
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::BadArguments), "{err}");
    // A member that is not running cannot be part of a quorum.
    let err = c
        .reconfig(
            &Reconfig::new()
                .add_server("server.8=127.0.0.1:0:0:participant;127.0.0.1:1")
                .add_server("server.9=127.0.0.1:0:0:participant;127.0.0.1:2")
                .add_server("server.10=127.0.0.1:0:0:participant;127.0.0.1:3"),
        )
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::NewConfigNoQuorum), "{err}");
    // Nothing changed.
    assert_eq!(c.ensemble_config().await.unwrap(), v0);
}

/// A spare joins as a voter; then two old voters go down and writes still
/// commit: the leader counts the new member's acks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_added_member_votes_so_two_old_ones_may_fail() {
    let zk = ensemble(3, 2).await;
    assert_eq!(zk.spares(), vec![4, 5]);
    let c = admin(&zk).await;
    let v0 = c.ensemble_config().await.unwrap();
    assert_eq!(ids(&v0), vec![1, 2, 3]);
    let (v1, stat) = c
        .reconfig(
            &Reconfig::new()
                .add_server(zk.server_line(4).unwrap())
                .add_server(zk.server_line(5).unwrap())
                .if_version(v0.version),
        )
        .await
        .unwrap();
    assert_eq!(ids(&v1), vec![1, 2, 3, 4, 5]);
    assert_eq!(v1.version, stat.mzxid, "version= is the reconfig's zxid");
    assert_eq!(c.ensemble_config().await.unwrap(), v1);
    // Five voters: with the leader and both new members, two old ones may go.
    let leader = zk.wait_for_leader().await.unwrap();
    let old: Vec<u64> = [1, 2, 3].into_iter().filter(|&m| m != leader).collect();
    for &m in &old {
        zk.kill(m).await.unwrap();
    }
    let w = client_of(&zk, leader).await;
    within(
        "a write with the new voters",
        w.create("/after", "", CreateMode::Persistent),
    )
    .await
    .unwrap();
    everywhere(&zk, &[leader, 4, 5], "/after").await;
    w.close().await.unwrap();
    // The leader restarts with the current configuration: with the initial
    // one it would not count 4 and 5, and no quorum would form.
    zk.restart(leader).await.unwrap();
    let w = client(&zk).await;
    within(
        "a write after the restart",
        w.create("/restarted", "", CreateMode::Persistent),
    )
    .await
    .unwrap();
    everywhere(&zk, &[leader, 4, 5], "/restarted").await;
}

/// Removing a follower leaves a smaller quorum: with two voters left, the
/// removed member stops serving and cannot block or help a commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_member_stops_serving_and_the_rest_commit() {
    let zk = ensemble(3, 0).await;
    let c = admin(&zk).await;
    let leader = zk.wait_for_leader().await.unwrap();
    let gone = [1, 2, 3].into_iter().find(|&m| m != leader).unwrap();
    let kept: Vec<u64> = [1, 2, 3].into_iter().filter(|&m| m != gone).collect();
    let (v1, _) = c
        .reconfig(&Reconfig::new().remove_server(gone))
        .await
        .unwrap();
    assert_eq!(ids(&v1), kept);
    zk.wait_for_status("the removed member stops serving", |s| {
        s.iter().any(|m| m.id == gone && !m.serving)
    })
    .await
    .unwrap();
    let w = client_of(&zk, leader).await;
    w.create("/two", "", CreateMode::Persistent).await.unwrap();
    everywhere(&zk, &kept, "/two").await;
    // Reconfig with the removed member down changes nothing: two voters
    // are still a quorum of two.
    zk.kill(gone).await.unwrap();
    w.create("/still", "", CreateMode::Persistent)
        .await
        .unwrap();
}

/// The full (non-incremental) form names the whole next membership: here
/// it leaves the leader out. The leader steps down once that commits, the
/// others elect one of themselves and go on without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_full_form_can_remove_the_leader() {
    let zk = ensemble(3, 1).await;
    let leader = zk.wait_for_leader().await.unwrap();
    let next: Vec<u64> = [1, 2, 3, 4].into_iter().filter(|&m| m != leader).collect();
    let lines: Vec<String> = next.iter().map(|&m| zk.server_line(m).unwrap()).collect();
    let c = admin(&zk).await;
    c.create("/before", "", CreateMode::Persistent)
        .await
        .unwrap();
    // The leader closes its connections once the change commits, so the
    // reply may be lost; the configuration then says whether it applied.
    match c.reconfig(&Reconfig::members(lines)).await {
        Ok((v1, _)) => assert_eq!(ids(&v1), next),
        Err(e) => assert!(e.is_connection_loss(), "{e}"),
    }
    zk.wait_for_status("a leader among the new voters", |s| {
        s.iter()
            .any(|m| next.contains(&m.id) && m.leader == Some(m.id) && m.serving)
    })
    .await
    .unwrap();
    let w = client_of(&zk, next[0]).await;
    let v1 = within("the new config", w.ensemble_config()).await.unwrap();
    assert_eq!(ids(&v1), next);
    within("a write without the old leader", async {
        loop {
            match w.create("/after", "", CreateMode::Persistent).await {
                Ok(_) => return,
                Err(e) if e.is(ErrorCode::NodeExists) => return,
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
    })
    .await;
    zk.kill(leader).await.unwrap();
    everywhere(&zk, &next, "/after").await;
    everywhere(&zk, &next, "/before").await;
}

/// A reconfig that gives a member another client port moves its listener
/// there, as ZooKeeper rebinds: new clients reach it on the new port, the
/// old one refuses, connections made before stay, and a restart listens on
/// the new port too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconfig_moves_a_members_client_port() {
    let zk = ensemble(3, 0).await;
    let c = admin(&zk).await;
    let old = zk.addr(3).unwrap();
    let before = client_of(&zk, 3).await;
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let line = zk
        .server_line(3)
        .unwrap()
        .replace(&format!(":{}", old.port()), &format!(":{port}"));
    let (v1, _) = c.reconfig(&Reconfig::new().add_server(line)).await.unwrap();
    let moved = v1.server(3).and_then(|s| s.client_address());
    assert_eq!(moved, Some(("127.0.0.1".to_string(), port)));
    // The client retries until member 3 listens there.
    let after = within(
        "a client on the new port",
        Client::builder(format!("127.0.0.1:{port}")).connect(),
    )
    .await
    .unwrap();
    after.get_data("/").await.unwrap();
    assert_eq!(zk.addr(3).unwrap().port(), port);
    assert!(
        tokio::net::TcpStream::connect(old).await.is_err(),
        "the old port still listens"
    );
    // The connection made before the move is kept.
    before.get_data("/").await.unwrap();
    assert_eq!(before.connected_server(), Some(old));
    after.close().await.unwrap();
    // A restarted member listens where the configuration says.
    zk.restart(3).await.unwrap();
    zk.wait_for_serving(3).await.unwrap();
    let restarted = within(
        "a client after the restart",
        Client::builder(format!("127.0.0.1:{port}")).connect(),
    )
    .await
    .unwrap();
    restarted.get_data("/").await.unwrap();
}
