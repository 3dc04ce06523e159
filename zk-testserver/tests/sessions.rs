//! Sessions over real sockets: reattach, expiry (forced and by silence),
//! refusal of clients ahead of the server, restart, dropped connections.

mod common;

use common::*;
use std::time::Duration;
use zk_client::proto::*;
use zk_testserver::Ensemble;

async fn start() -> Ensemble {
    Ensemble::builder()
        .tick(Duration::from_millis(20))
        .start()
        .await
        .expect("start")
}

fn reattach(c: &Raw, zxid: i64) -> ConnectRequest {
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: zxid,
        timeout_ms: 400,
        session_id: c.session_id,
        password: c.password.clone(),
        read_only: Some(false),
    }
}

#[tokio::test]
async fn reattach_with_password_and_wrong_password() {
    let zk = start().await;
    let addr = zk.connect_string();
    let mut c = Raw::connect(&addr).await;
    c.call(&create("/e", b"", 1)).await;
    let (mut again, resp) = Raw::handshake(&addr, reattach(&c, 0)).await;
    let resp = resp.unwrap();
    assert_eq!((resp.session_id, resp.timeout_ms), (c.session_id, 400));
    // The old connection is closed; the new one serves the session.
    assert!(c.closed().await);
    let r = again
        .call(&Request::GetEphemerals(PathRequest { path: "/".into() }))
        .await;
    assert_eq!(
        r.body,
        Some(Response::Ephemerals(GetEphemeralsResponse {
            ephemerals: vec!["/e".into()]
        }))
    );
    let mut wrong = reattach(&again, 0);
    wrong.password = bytes::Bytes::from_static(&[9; 16]);
    let (mut w, resp) = Raw::handshake(&addr, wrong).await;
    assert_eq!(resp.unwrap(), ConnectResponse::expired());
    assert!(w.closed().await);
}

#[tokio::test]
async fn expired_session_gets_the_zero_response() {
    let zk = start().await;
    let addr = zk.connect_string();
    let mut c = Raw::connect(&addr).await;
    c.call(&create("/e", b"", 1)).await;
    let mut watcher = Raw::connect(&addr).await;
    watcher
        .call(&Request::Exists(PathWatchRequest {
            path: "/e".into(),
            watch: true,
        }))
        .await;
    zk.expire_session(c.session_id).await.unwrap();
    assert!(c.closed().await);
    // The watcher's next frame is the NodeDeleted notification.
    let f = watcher.next_frame().await.unwrap();
    let (h, mut body) = decode_reply_header(f).unwrap();
    assert_eq!(h.xid, -1);
    assert_eq!(
        WatcherEvent::read(&mut body).unwrap(),
        WatcherEvent::node(EventType::NodeDeleted, "/e")
    );
    let (mut again, resp) = Raw::handshake(&addr, reattach(&c, 0)).await;
    let resp = resp.unwrap();
    assert_eq!((resp.timeout_ms, resp.session_id), (0, 0));
    assert_eq!(resp.password.as_ref(), &[0u8; 16]);
    assert!(again.closed().await);
    assert!(zk
        .sessions()
        .await
        .unwrap()
        .iter()
        .all(|s| s.id != c.session_id));
}

#[tokio::test]
async fn silent_session_expires_and_its_ephemerals_go() {
    let zk = start().await; // tick 20 ms: timeouts in [40, 400]
    let addr = zk.connect_string();
    let (mut c, resp) = Raw::handshake(&addr, new_session(40)).await;
    assert_eq!(resp.unwrap().timeout_ms, 40);
    c.call(&create("/e", b"", 1)).await;
    let mut w = Raw::connect(&addr).await;
    w.call(&Request::Exists(PathWatchRequest {
        path: "/e".into(),
        watch: true,
    }))
    .await;
    // No pings: the server closes the connection once the session expires.
    assert!(c.closed().await);
    let f = w.next_frame().await.unwrap();
    let (h, mut body) = decode_reply_header(f).unwrap();
    assert_eq!(h.xid, -1);
    assert_eq!(
        WatcherEvent::read(&mut body).unwrap(),
        WatcherEvent::node(EventType::NodeDeleted, "/e")
    );
}

#[tokio::test]
async fn client_ahead_of_server_is_refused() {
    let zk = start().await;
    let addr = zk.connect_string();
    let mut req = new_session(1000);
    req.last_zxid_seen = 1_000;
    let (mut c, resp) = Raw::handshake(&addr, req).await;
    assert!(resp.is_none());
    assert!(c.closed().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_replays_the_log_and_sessions_survive() {
    let zk = start().await;
    let addr = zk.connect_string();
    let mut c = Raw::connect(&addr).await;
    c.call(&create("/keep", b"v", 0)).await;
    c.call(&create("/eph", b"", 1)).await;
    let digest = zk.digest(1).await.unwrap();
    let zxid = zk.last_zxid(1).await.unwrap();
    zk.restart_all().await.unwrap();
    assert_eq!(zk.connect_string(), addr);
    assert!(c.closed().await);
    assert_eq!(zk.digest(1).await.unwrap(), digest);
    assert_eq!(zk.last_zxid(1).await.unwrap(), zxid);
    let (mut again, resp) = Raw::handshake(&addr, reattach(&c, zxid)).await;
    assert_eq!(resp.unwrap().session_id, c.session_id);
    let r = again.call(&get("/keep", false)).await;
    assert_eq!(r.header.err, 0);
    assert_eq!(again.call(&get("/eph", false)).await.header.err, 0);
}

#[tokio::test]
async fn dropped_connections_keep_their_sessions() {
    let zk = start().await;
    let addr = zk.connect_string();
    let mut c = Raw::connect(&addr).await;
    zk.drop_all_client_connections().await.unwrap();
    assert!(c.closed().await);
    let (_again, resp) = Raw::handshake(&addr, reattach(&c, 0)).await;
    assert_eq!(resp.unwrap().session_id, c.session_id);
}

#[tokio::test]
async fn close_session_replies_and_closes() {
    let zk = start().await;
    let addr = zk.connect_string();
    let mut c = Raw::connect(&addr).await;
    c.call(&create("/e", b"", 1)).await;
    let r = c.call(&Request::CloseSession).await;
    assert_eq!(r.header.err, 0);
    assert!(c.closed().await);
    assert!(zk.sessions().await.unwrap().is_empty());
    let mut d = Raw::connect(&addr).await;
    assert_eq!(d.call(&get("/e", false)).await.header.err, -101);
}

#[tokio::test]
async fn stop_and_drop_shut_down_cleanly() {
    let zk = start().await;
    let addr = zk.connect_string();
    let mut c = Raw::connect(&addr).await;
    zk.stop().await;
    assert!(c.closed().await);
    assert!(zk.digest(1).await.is_err());
    assert!(tokio::net::TcpStream::connect(&addr).await.is_err());
    drop(zk);
    let other = start().await;
    drop(other);
}
