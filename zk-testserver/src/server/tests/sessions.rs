//! Sessions: negotiation, reattach, expiry with ephemeral deletion, close,
//! refusal of clients ahead of the server, restart by log replay.

use super::harness::*;
use crate::server::{Database, Mode, Server, Submission};
use bytes::Bytes;
use zk_client::proto::*;

fn connect_req(session: i64, password: Bytes, timeout: i32, zxid: i64) -> ConnectRequest {
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: zxid,
        timeout_ms: timeout,
        session_id: session,
        password,
        read_only: Some(false),
    }
}

#[test]
fn timeout_is_clamped_to_tick_bounds() {
    let mut h = Harness::new(); // tick 100: [200, 2000]
    for (asked, got) in [(1, 200), (500, 500), (999_999, 2000)] {
        let conn = h.open();
        let (resp, _) = h.handshake(conn, connect_req(0, Bytes::from_static(&[0; 16]), asked, 0));
        assert_eq!(resp.unwrap().timeout_ms, got);
    }
}

#[test]
fn reattach_needs_the_password_and_a_live_session() {
    let mut h = Harness::new();
    let c = h.connect();
    assert_eq!(c.session >> 56, 1);
    assert_eq!(c.password.len(), 16);
    let conn = h.open();
    let (resp, closed) = h.handshake(conn, connect_req(c.session, c.password.clone(), 800, 0));
    let resp = resp.unwrap();
    assert!(!closed);
    assert_eq!((resp.session_id, resp.timeout_ms), (c.session, 800));
    assert_eq!(resp.password, c.password);
    let conn = h.open();
    let (resp, closed) = h.handshake(
        conn,
        connect_req(c.session, Bytes::from_static(&[1; 16]), 800, 0),
    );
    assert_eq!(resp.unwrap(), ConnectResponse::expired());
    assert!(closed);
    let conn = h.open();
    let (resp, closed) = h.handshake(conn, connect_req(12345, c.password, 800, 0));
    assert_eq!(resp.unwrap(), ConnectResponse::expired());
    assert!(closed);
}

#[test]
fn client_ahead_of_server_is_refused_without_reply() {
    let mut h = Harness::new();
    let conn = h.open();
    let (resp, closed) = h.handshake(conn, connect_req(0, Bytes::from_static(&[0; 16]), 1000, 99));
    assert!(resp.is_none());
    assert!(closed);
}

#[test]
fn garbage_handshake_closes() {
    let mut h = Harness::new();
    let conn = h.open();
    let out = h.frame(conn, Bytes::from_static(&[0, 0, 0, 3, 1, 2, 3]));
    assert!(closed(conn, &out));
}

#[test]
fn expiry_deletes_ephemerals_and_fires_watches() {
    let mut h = Harness::new();
    let mut owner = h.connect();
    let mut watcher = h.connect();
    h.call(&mut owner, &create("/e", 1));
    h.call(&mut owner, &create("/p", 0));
    h.call(&mut owner, &create("/p/e", 3));
    h.call(
        &mut watcher,
        &Request::Exists(PathWatchRequest {
            path: "/e".into(),
            watch: true,
        }),
    );
    // The watcher keeps pinging; the owner goes silent.
    let mut expired_out = Vec::new();
    for _ in 0..12 {
        h.now.mono_ms += 100;
        h.now.wall_ms += 100;
        h.call(&mut watcher, &Request::Ping);
        h.server.handle_tick(h.now);
        expired_out.extend(h.drain());
    }
    assert!(closed(owner.conn, &expired_out));
    assert_eq!(
        events_for(watcher.conn, &expired_out),
        vec![(EventType::NodeDeleted, "/e".to_string())]
    );
    assert!(h.server.database().tree.get("/e").is_none());
    assert!(h.server.database().tree.get("/p/e0000000000").is_none());
    assert_eq!(h.server.sessions().len(), 1);
    // Reattach after expiry: the zero response.
    let conn = h.open();
    let (resp, _) = h.handshake(conn, connect_req(owner.session, owner.password, 1000, 0));
    assert_eq!(resp.unwrap().timeout_ms, 0);
}

#[test]
fn close_session_replies_then_closes() {
    let mut h = Harness::new();
    let mut c = h.connect();
    h.call(&mut c, &create("/e", 1));
    let (xid, out) = h.send(&mut c, &Request::CloseSession);
    let replies = decode_for(c.conn, OpCode::CloseSession, out.clone());
    assert_eq!((replies[0].header.xid, replies[0].err()), (xid, 0));
    assert!(closed(c.conn, &out));
    assert!(h.server.database().tree.get("/e").is_none());
    assert!(h.server.sessions().is_empty());
}

#[test]
fn expire_session_control_and_recovery_from_snapshot_and_log() {
    let mut h = Harness::new();
    let mut c = h.connect();
    h.call(&mut c, &create("/a", 0));
    h.call(&mut c, &create("/e", 1));
    // The harness applies on the fly; rebuild the same state from the log:
    // a snapshot of a server that applied a prefix, then the rest on top.
    let mut partial = Server::new(h.config.clone(), Database::default(), h.now);
    let mut entries = Vec::new();
    {
        let mut s = Server::new(h.config.clone(), Database::default(), h.now);
        s.start_serving(Mode::Prepare, 0, h.now);
        s.open_connection(1, peer());
        let hs = encode_record(&connect_req(0, Bytes::from_static(&[0; 16]), 1000, 0));
        s.handle_frame(1, hs.slice(4..), h.now);
        for (xid, r) in [(1, create("/a", 0)), (2, create("/e", 1))] {
            s.handle_frame(1, encode_request(xid, &r).slice(4..), h.now);
            while let Some(Submission::Propose(e)) = s.poll_submission() {
                entries.push(e.clone());
                s.apply_committed(e, h.now);
            }
        }
        while let Some(Submission::Propose(e)) = s.poll_submission() {
            entries.push(e.clone());
            s.apply_committed(e, h.now);
        }
        assert_eq!(entries.len(), 3);
        for e in &entries[..2] {
            partial.apply_committed(e.clone(), h.now);
        }
        let snap = Database::from_snapshot(partial.snapshot()).unwrap();
        let mut again = Server::new(h.config.clone(), snap, h.now);
        for e in &entries[2..] {
            again.apply_committed(e.clone(), h.now);
        }
        assert_eq!(again.digest(), s.digest());
        assert_eq!(again.sessions(), s.sessions());
        assert_eq!(again.last_zxid(), s.last_zxid());
    }
    assert!(h.server.expire_session(c.session, h.now));
    let out = h.drain();
    assert!(closed(c.conn, &out));
    assert!(h.server.database().tree.get("/e").is_none());
    // A server that does not prepare writes does not expire sessions.
    let mut f = Server::new(h.config.clone(), Database::default(), h.now);
    f.start_serving(Mode::Forward, 0, h.now);
    assert!(!f.expire_session(1, h.now));
}
