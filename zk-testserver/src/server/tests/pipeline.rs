//! The commit step decoupled from preparation, as replication will make it:
//! proposals wait until released, reads queue behind their connection's
//! writes, other connections are not held up, and outstanding changes are
//! visible to later preparations.

use super::harness::*;
use crate::server::{Database, Mode, ConnOutput, Server, Submission, Time};
use bytes::Bytes;
use zk_client::proto::*;

/// Commits (applies) every proposal the server submitted so far.
fn release_all(s: &mut Server, now: Time) {
    let held: Vec<Submission> = std::iter::from_fn(|| s.poll_submission()).collect();
    for sub in held {
        match sub {
            Submission::Propose(e) => s.apply_committed(e, now),
            Submission::Sync(t) => s.sync_done(t, now),
            Submission::Forward(w) => panic!("unexpected forward {w:?}"),
        }
    }
}

fn frames(out: &[(u64, ConnOutput)], conn: u64) -> Vec<ReplyHeader> {
    out.iter()
        .filter(|(c, _)| *c == conn)
        .filter_map(|(_, o)| match o {
            ConnOutput::Frame(f) => Some(ReplyHeader::from_bytes(f.slice(4..20)).unwrap()),
            ConnOutput::Close => None,
        })
        .collect()
}

/// A server preparing writes itself, with a session on each of `conns`
/// (handshakes done, their output drained), and the time it runs at.
fn serving(conns: &[u64]) -> (Server, Time) {
    let config = crate::server::ServerConfig::with_tick(100);
    let now = Time {
        wall_ms: 1,
        mono_ms: 1000,
    };
    let mut s = Server::new(config, Database::default(), now);
    s.start_serving(Mode::Prepare, 0, now);
    let handshake = encode_record(&ConnectRequest {
        timeout_ms: 1000,
        password: Bytes::from_static(&[0; 16]),
        ..Default::default()
    });
    for &conn in conns {
        s.open_connection(conn, peer());
        s.handle_frame(conn, handshake.slice(4..), now);
    }
    release_all(&mut s, now);
    while s.poll_output().is_some() {}
    (s, now)
}

#[test]
fn reads_wait_for_earlier_writes_of_their_connection_only() {
    let (mut s, now) = serving(&[1, 2, 3]);

    // Connection 1: create /a (held), then a read of /a, then a ping.
    let send = |s: &mut Server, conn, xid, r: &Request| {
        s.handle_frame(conn, encode_request(xid, r).slice(4..), now)
    };
    send(&mut s, 1, 1, &create("/a", 0));
    send(
        &mut s,
        1,
        2,
        &Request::GetData(PathWatchRequest {
            path: "/a".into(),
            watch: false,
        }),
    );
    send(&mut s, 1, -2, &Request::Ping);
    // A second create of /a prepared while the first is outstanding fails.
    send(&mut s, 2, 1, &create("/a", 0));
    // Connection 2's read is not held up by connection 1's write.
    send(
        &mut s,
        2,
        2,
        &Request::Exists(PathWatchRequest {
            path: "/".into(),
            watch: false,
        }),
    );
    // Connection 3 has no writes in flight: answered at once, from the
    // applied tree (which does not have /a yet).
    send(
        &mut s,
        3,
        1,
        &Request::Exists(PathWatchRequest {
            path: "/a".into(),
            watch: false,
        }),
    );
    let mut out = Vec::new();
    while let Some(o) = s.poll_output() {
        out.push(o);
    }
    let three: Vec<(i32, i32)> = frames(&out, 3).iter().map(|h| (h.xid, h.err)).collect();
    assert_eq!(three, vec![(1, -101)]);
    assert!(frames(&out, 1).is_empty());
    assert!(
        frames(&out, 2).is_empty(),
        "exists waits behind conn 2's own create"
    );
    release_all(&mut s, now);
    let mut out = Vec::new();
    while let Some(o) = s.poll_output() {
        out.push(o);
    }
    let one: Vec<(i32, i32)> = frames(&out, 1).iter().map(|h| (h.xid, h.err)).collect();
    assert_eq!(one, vec![(1, 0), (2, 0), (-2, 0)]);
    let two: Vec<(i32, i32)> = frames(&out, 2).iter().map(|h| (h.xid, h.err)).collect();
    assert_eq!(two, vec![(1, -110), (2, 0)]);
}

#[test]
fn a_write_applied_before_an_earlier_sync_is_done_waits_for_it() {
    let (mut s, now) = serving(&[1]);

    // sync (xid 1), then create (xid 2), then closeSession (xid 3); the
    // transactions are applied before the sync's barrier is done.
    let sync = Request::Sync(PathRequest { path: "/".into() });
    s.handle_frame(1, encode_request(1, &sync).slice(4..), now);
    s.handle_frame(1, encode_request(2, &create("/a", 0)).slice(4..), now);
    s.handle_frame(1, encode_request(3, &Request::CloseSession).slice(4..), now);
    let held: Vec<Submission> = std::iter::from_fn(|| s.poll_submission()).collect();
    let mut syncs = Vec::new();
    for sub in held {
        match sub {
            Submission::Propose(e) => s.apply_committed(e, now),
            Submission::Sync(t) => syncs.push(t),
            Submission::Forward(w) => panic!("unexpected forward {w:?}"),
        }
    }
    let early: Vec<(u64, ConnOutput)> = std::iter::from_fn(|| s.poll_output()).collect();
    assert!(
        frames(&early, 1).is_empty(),
        "answered before the sync: {early:?}"
    );
    for t in syncs {
        s.sync_done(t, now);
    }
    let out: Vec<(u64, ConnOutput)> = std::iter::from_fn(|| s.poll_output()).collect();
    let xids: Vec<i32> = frames(&out, 1).iter().map(|h| h.xid).collect();
    assert_eq!(xids, [1, 2, 3], "{out:?}");
    assert!(
        matches!(out.last(), Some((1, ConnOutput::Close))),
        "closed after the close's reply: {out:?}"
    );
}
