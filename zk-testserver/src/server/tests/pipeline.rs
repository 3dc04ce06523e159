//! The commit step decoupled from preparation, as replication will make it:
//! proposals wait until released, reads queue behind their connection's
//! writes, other connections are not held up, and outstanding changes are
//! visible to later preparations.

use super::harness::*;
use crate::server::{Committer, Output, Server, Time};
use crate::storage::LogEntry;
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use zk_client::proto::*;

/// Holds proposals until the test releases them.
#[derive(Clone, Default)]
struct Gate {
    held: Arc<Mutex<VecDeque<LogEntry>>>,
    released: Arc<Mutex<VecDeque<LogEntry>>>,
}

impl Gate {
    fn release_all(&self) {
        let mut held = self.held.lock().unwrap();
        self.released.lock().unwrap().extend(held.drain(..));
    }
}

impl Committer for Gate {
    fn propose(&mut self, entry: LogEntry) {
        self.held.lock().unwrap().push_back(entry);
    }
    fn poll_committed(&mut self) -> Option<LogEntry> {
        self.released.lock().unwrap().pop_front()
    }
}

fn frames(out: &[(u64, Output)], conn: u64) -> Vec<ReplyHeader> {
    out.iter()
        .filter(|(c, _)| *c == conn)
        .filter_map(|(_, o)| match o {
            Output::Frame(f) => Some(ReplyHeader::from_bytes(f.slice(4..20)).unwrap()),
            Output::Close => None,
        })
        .collect()
}

#[test]
fn reads_wait_for_earlier_writes_of_their_connection_only() {
    let gate = Gate::default();
    let config = crate::server::ServerConfig::with_tick(100);
    let now = Time {
        wall_ms: 1,
        mono_ms: 1000,
    };
    let mut s = Server::new(config, Box::new(gate.clone()), &[], now);
    let handshake = encode_record(&ConnectRequest {
        timeout_ms: 1000,
        password: Bytes::from_static(&[0; 16]),
        ..Default::default()
    });
    for conn in [1, 2, 3] {
        s.open_connection(conn, peer());
        s.handle_frame(conn, handshake.slice(4..), now);
    }
    gate.release_all();
    s.handle_tick(now);
    while s.poll_output().is_some() {}

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
    gate.release_all();
    s.handle_tick(now);
    let mut out = Vec::new();
    while let Some(o) = s.poll_output() {
        out.push(o);
    }
    let one: Vec<(i32, i32)> = frames(&out, 1).iter().map(|h| (h.xid, h.err)).collect();
    assert_eq!(one, vec![(1, 0), (2, 0), (-2, 0)]);
    let two: Vec<(i32, i32)> = frames(&out, 2).iter().map(|h| (h.xid, h.err)).collect();
    assert_eq!(two, vec![(1, -110), (2, 0)]);
}
