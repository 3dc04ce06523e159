//! Two server machines wired as leader and follower through the commit
//! interface: the follower forwards writes (session creation included), the
//! leader prepares them, both apply the same committed entries and end with
//! the same digest; the follower answers its own client.

use super::harness::*;
use crate::server::{Committer, ForwardedWrite, LocalCommitter, Output, Server, Time};
use crate::storage::LogEntry;
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use zk_client::proto::*;

/// Follower side: forwards writes, applies what the test delivers.
#[derive(Clone, Default)]
struct Follower {
    forwarded: Arc<Mutex<VecDeque<ForwardedWrite>>>,
    committed: Arc<Mutex<VecDeque<LogEntry>>>,
}

impl Committer for Follower {
    fn propose(&mut self, _entry: LogEntry) {
        panic!("a follower never proposes");
    }
    fn poll_committed(&mut self) -> Option<LogEntry> {
        self.committed.lock().unwrap().pop_front()
    }
    fn prepares_writes(&self) -> bool {
        false
    }
    fn forward(&mut self, write: ForwardedWrite) {
        self.forwarded.lock().unwrap().push_back(write);
    }
}

struct Pair {
    leader: Server,
    follower: Server,
    f: Follower,
    log: crate::server::SharedLog,
    shipped: usize,
    now: Time,
}

impl Pair {
    fn new() -> Pair {
        let now = Time {
            wall_ms: 5,
            mono_ms: 1000,
        };
        let log = crate::server::SharedLog::default();
        let mut lc = crate::server::ServerConfig::with_tick(100);
        lc.server_id = 1;
        let mut fc = lc.clone();
        fc.server_id = 2;
        let f = Follower::default();
        Pair {
            leader: Server::new(lc, Box::new(LocalCommitter::new(log.clone())), &[], now),
            follower: Server::new(fc, Box::new(f.clone()), &[], now),
            f,
            log,
            shipped: 0,
            now,
        }
    }

    /// Moves forwarded writes to the leader and its commits to the follower
    /// until quiet; returns the follower's outputs.
    fn settle(&mut self) -> Vec<(u64, Output)> {
        let mut out = Vec::new();
        loop {
            while let Some(o) = self.follower.poll_output() {
                out.push(o);
            }
            let fw = self.f.forwarded.lock().unwrap().pop_front();
            if let Some(w) = fw {
                self.leader.handle_forwarded(w, self.now);
                continue;
            }
            let log = self.log.lock().unwrap().clone();
            if self.shipped < log.len() {
                self.f
                    .committed
                    .lock()
                    .unwrap()
                    .extend(log[self.shipped..].iter().cloned());
                self.shipped = log.len();
                self.follower.handle_tick(self.now);
                continue;
            }
            return out;
        }
    }

    fn send(&mut self, conn: u64, frame: Bytes) -> Vec<(u64, Output)> {
        self.follower.handle_frame(conn, frame.slice(4..), self.now);
        self.settle()
    }
}

#[test]
fn follower_forwards_writes_and_answers_its_client() {
    let mut p = Pair::new();
    p.follower.open_connection(1, peer());
    let hs = encode_record(&ConnectRequest {
        timeout_ms: 1000,
        password: Bytes::from_static(&[0; 16]),
        ..Default::default()
    });
    let out = p.send(1, hs);
    let Output::Frame(f) = &out[0].1 else {
        panic!("{out:?}")
    };
    let resp = ConnectResponse::from_bytes(f.slice(4..)).unwrap();
    // The follower made the session id (its server id in the top byte).
    assert_eq!(resp.session_id >> 56, 2);
    assert_eq!(p.leader.sessions(), p.follower.sessions());

    // A read-your-write sequence on the follower: the read waits for the commit.
    p.follower
        .handle_frame(1, encode_request(1, &create("/a", 1)).slice(4..), p.now);
    p.follower.handle_frame(
        1,
        encode_request(
            2,
            &Request::GetData(PathWatchRequest {
                path: "/a".into(),
                watch: false,
            }),
        )
        .slice(4..),
        p.now,
    );
    let out = p.settle();
    let replies = decode_for(1, OpCode::Create2, out.clone());
    assert_eq!(replies[0].header.xid, 1);
    assert_eq!(replies[0].stat().ephemeral_owner, resp.session_id);
    let replies = decode_for(1, OpCode::GetData, out);
    assert_eq!((replies[1].header.xid, replies[1].err()), (2, 0));
    assert_eq!(p.leader.digest(), p.follower.digest());

    // An error decided by the leader reaches the follower's client.
    let out = p.send(1, encode_request(3, &create("/a", 0)));
    assert_eq!(decode_for(1, OpCode::Create2, out)[0].err(), -110);

    // closeSession through the leader deletes the ephemeral everywhere.
    let out = p.send(1, encode_request(4, &Request::CloseSession));
    assert!(closed(1, &out));
    assert!(p.leader.database().tree.get("/a").is_none());
    assert_eq!(p.leader.digest(), p.follower.digest());
    assert!(p.follower.sessions().is_empty());
}
