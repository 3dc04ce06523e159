//! A session re-attached through another member moves there: its old
//! connection is closed without a reply when the leader next sees a request
//! from it (ZooKeeper's SessionMoved), as observed on a 3-member ZooKeeper
//! 3.8.0 ensemble with raw sockets:
//! - old connection on a follower: pings and reads are still answered
//!   there; a write is not applied (it consumes a zxid) and the connection
//!   is closed;
//! - old connection on the leader: anything but closeSession closes it;
//! - old connection on the same member: closed at once;
//! - the new connection is not disturbed.

mod common;

use common::*;
use std::time::Duration;
use zk_client::proto::*;
use zk_testserver::Ensemble;

async fn ensemble() -> Ensemble {
    let zk = Ensemble::builder()
        .members(3)
        .tick(Duration::from_millis(50))
        // The raw connections never ping: their 10 s sessions must not be
        // cut to the 1 s a 50 ms tick allows by default.
        .max_session_timeout(Duration::from_secs(20))
        .start()
        .await
        .expect("start");
    zk.wait_for_leader().await.expect("leader");
    zk
}

/// (leader, the two followers)
async fn roles(zk: &Ensemble) -> (u64, u64, u64) {
    let leader = zk.wait_for_leader().await.unwrap();
    let f: Vec<u64> = zk.members().into_iter().filter(|m| *m != leader).collect();
    (leader, f[0], f[1])
}

fn addr(zk: &Ensemble, m: u64) -> String {
    zk.addr(m).unwrap().to_string()
}

/// A session on `from`, re-attached on `to`: (old connection, new one).
async fn moved(zk: &Ensemble, from: u64, to: u64) -> (Raw, Raw) {
    let old = Raw::connect(&addr(zk, from)).await;
    // Make sure `to` knows the session (it may apply the creation later).
    let mut probe = Raw::connect(&addr(zk, to)).await;
    probe
        .call(&Request::Sync(PathRequest { path: "/".into() }))
        .await;
    let again = ConnectRequest {
        session_id: old.session_id,
        password: old.password.clone(),
        ..new_session(10_000)
    };
    let (new, resp) = Raw::handshake(&addr(zk, to), again).await;
    assert_eq!(resp.expect("reattach").session_id, old.session_id);
    (old, new)
}

fn exists(path: &str) -> Request {
    Request::Exists(PathWatchRequest {
        path: path.into(),
        watch: false,
    })
}

#[tokio::test]
async fn an_old_connection_on_a_follower_may_read_but_not_write() {
    let zk = ensemble().await;
    let (_, f1, f2) = roles(&zk).await;
    let (mut old, mut new) = moved(&zk, f1, f2).await;
    assert_eq!(old.call(&get("/", false)).await.header.err, 0, "read");
    assert_eq!(old.call(&Request::Ping).await.header.err, 0, "ping");
    let before = zk.last_zxid(f2).await.unwrap();
    old.send(&create("/moved", b"x", 0)).await;
    assert!(
        old.reply(OpCode::Create).await.is_none(),
        "closed, no reply"
    );
    // The write consumed a zxid and created nothing; the new connection
    // goes on. `f2` applies the leader's commits on its own schedule, so
    // catch it up before reading its zxid.
    new.call(&Request::Sync(PathRequest { path: "/".into() }))
        .await;
    let r = new.call(&exists("/moved")).await;
    assert_eq!(r.header.err, ErrorCode::NoNode.code());
    assert!(r.header.zxid > before, "the refused write consumed a zxid");
    assert_eq!(new.call(&create("/here", b"x", 0)).await.header.err, 0);
}

#[tokio::test]
async fn an_old_connection_on_the_leader_is_closed_by_any_request() {
    let zk = ensemble().await;
    let (leader, f1, _) = roles(&zk).await;
    for request in [get("/", false), Request::Ping, create("/moved", b"", 0)] {
        let (mut old, mut new) = moved(&zk, leader, f1).await;
        let op = request.opcode();
        old.send(&request).await;
        assert!(old.reply(op).await.is_none(), "{op:?}: closed, no reply");
        assert_eq!(new.call(&exists("/moved")).await.header.err, -101);
        assert_eq!(new.call(&Request::Ping).await.header.err, 0);
    }
}

#[tokio::test]
async fn a_session_moved_to_the_leader_refuses_the_old_followers_writes() {
    let zk = ensemble().await;
    let (leader, f1, _) = roles(&zk).await;
    let (mut old, mut new) = moved(&zk, f1, leader).await;
    old.send(&set("/", b"x")).await;
    assert!(
        old.reply(OpCode::SetData).await.is_none(),
        "closed, no reply"
    );
    let r = new.call(&get("/", false)).await;
    assert!(matches!(r.body, Some(Response::GetData(ref d)) if d.stat.version == 0));
    // And back: the session moves with each re-attach.
    let (mut old, mut new) = moved(&zk, leader, f1).await;
    old.send(&set("/", b"y")).await;
    assert!(old.reply(OpCode::SetData).await.is_none());
    assert_eq!(new.call(&set("/", b"z")).await.header.err, 0);
}

#[tokio::test]
async fn an_old_connection_may_still_close_the_session() {
    // ZooKeeper does not check the owner of closeSession.
    let zk = ensemble().await;
    let (_, f1, f2) = roles(&zk).await;
    let (mut old, mut new) = moved(&zk, f1, f2).await;
    assert_eq!(old.call(&Request::CloseSession).await.header.err, 0);
    assert!(new.closed().await);
}

#[tokio::test]
async fn an_old_connection_on_the_same_member_is_closed_at_once() {
    let zk = ensemble().await;
    let (_, f1, _) = roles(&zk).await;
    let (mut old, mut new) = moved(&zk, f1, f1).await;
    assert!(old.closed().await);
    assert_eq!(new.call(&Request::Ping).await.header.err, 0);
}

/// The client addresses of a 3-member ensemble as (leader, follower,
/// follower), from each member's `srvr`.
async fn roles_of(addrs: &[String]) -> (String, String, String) {
    let mut leader = None;
    let mut followers = Vec::new();
    for a in addrs {
        let srvr = four_letter(a, "srvr").await;
        if srvr.contains("Mode: leader") {
            leader = Some(a.clone());
        } else {
            followers.push(a.clone());
        }
    }
    let leader = leader.expect("a leader");
    assert_eq!(followers.len(), 2, "three members");
    (leader, followers[0].clone(), followers[1].clone())
}

/// What a request on the old connection gets: its error code, or "closed".
async fn outcome(c: &mut Raw, req: &Request) -> String {
    c.send(req).await;
    match c.reply(req.opcode()).await {
        Some(r) => format!("err {}", r.header.err),
        None => "closed".into(),
    }
}

/// Moves a session between every pair of roles, sends one request on the
/// old connection, and notes what it and the new connection get.
async fn transcript(addrs: &[String]) -> String {
    let (leader, f1, f2) = roles_of(addrs).await;
    let pairs = [
        ("follower", &f1, "other follower", &f2),
        ("leader", &leader, "follower", &f1),
        ("follower", &f1, "leader", &leader),
        ("follower", &f1, "same member", &f1),
    ];
    let requests = [
        ("ping", Request::Ping),
        ("read", get("/", false)),
        ("write", create("/session-moved-probe", b"", 0)),
    ];
    let mut out = String::new();
    for (from_name, from, to_name, to) in pairs {
        for (what, req) in &requests {
            let old = Raw::connect(from).await;
            let mut probe = Raw::connect(to).await;
            probe
                .call(&Request::Sync(PathRequest { path: "/".into() }))
                .await;
            let again = ConnectRequest {
                session_id: old.session_id,
                password: old.password.clone(),
                ..new_session(10_000)
            };
            let (mut new, _) = Raw::handshake(to, again).await;
            let mut old = old;
            let got = if to == from {
                // Closed at once (a read timeout fails the test otherwise).
                old.closed().await;
                "closed".to_string()
            } else {
                outcome(&mut old, req).await
            };
            let new_ok = new.call(&Request::Ping).await.header.err;
            let created = new.call(&exists("/session-moved-probe")).await.header.err;
            if created == 0 {
                new.call(&delete("/session-moved-probe")).await;
            }
            new.call(&Request::CloseSession).await;
            out.push_str(&format!(
                "{from_name} -> {to_name}, {what} on the old connection: {got}; \
                 new connection ping err {new_ok}; probe node err {created}\n"
            ));
        }
    }
    out
}

#[tokio::test]
async fn the_same_as_real_zookeeper() {
    let real = match (
        std::env::var("ZK_REFERENCE").as_deref(),
        std::env::var("ZK_CONNECT"),
    ) {
        (Ok("ensemble"), Ok(c)) => c,
        _ => {
            eprintln!(
                "the_same_as_real_zookeeper: no real ensemble (ZK_REFERENCE=ensemble, ZK_CONNECT); \
                 compared in `scripts/conformance.sh session-moved`"
            );
            return;
        }
    };
    let real: Vec<String> = real.split(',').map(str::to_string).collect();
    let expected = transcript(&real).await;
    let zk = Ensemble::builder()
        .members(3)
        .tick(Duration::from_millis(50))
        .four_letter_words(zk_testserver::FourLetterWords::all())
        .start()
        .await
        .expect("start");
    zk.wait_for_leader().await.unwrap();
    let ours: Vec<String> = zk.addresses().iter().map(|a| a.to_string()).collect();
    let got = transcript(&ours).await;
    println!("{got}");
    assert_eq!(got, expected);
}
