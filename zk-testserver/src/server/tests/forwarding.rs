//! Two server machines wired by hand as leader ([`Mode::Prepare`]) and
//! follower ([`Mode::Forward`]): the follower forwards writes (session
//! creation included), the leader prepares them, both apply the same
//! committed entries and end with the same digest; the follower answers its
//! own client, holds `sync` until the leader's commits are applied, and
//! revalidates reattaches to sessions it has not applied yet.

use super::harness::*;
use crate::server::{Database, Mode, ConnOutput, Server, Submission, Time};
use crate::storage::LogEntry;
use bytes::Bytes;
use std::collections::VecDeque;
use zk_client::proto::*;

struct Pair {
    leader: Server,
    follower: Server,
    /// Committed entries not yet shipped to the follower.
    unshipped: VecDeque<LogEntry>,
    /// Follower sync tokens waiting for the next shipment.
    syncs: Vec<u64>,
    /// The leader's client outputs.
    leader_out: Vec<(u64, ConnOutput)>,
    now: Time,
}

impl Pair {
    fn new() -> Pair {
        let now = Time {
            wall_ms: 5,
            mono_ms: 1000,
        };
        let mut lc = crate::server::ServerConfig::with_tick(100);
        lc.server_id = 1;
        let mut fc = lc.clone();
        fc.server_id = 2;
        let mut leader = Server::new(lc, Database::default(), now);
        leader.start_serving(Mode::Prepare, 1 << 32, now);
        let mut follower = Server::new(fc, Database::default(), now);
        follower.start_serving(Mode::Forward, 0, now);
        Pair {
            leader,
            follower,
            unshipped: VecDeque::new(),
            syncs: Vec::new(),
            leader_out: Vec::new(),
            now,
        }
    }

    /// Runs the leader's proposals (committed at once there) and the
    /// follower's forwards until quiet, shipping commits to the follower only
    /// when `ship` is set. Returns the follower's outputs.
    fn run(&mut self, ship: bool) -> Vec<(u64, ConnOutput)> {
        let mut out = Vec::new();
        loop {
            let mut busy = false;
            while let Some(s) = self.follower.poll_submission() {
                busy = true;
                match s {
                    Submission::Forward(w) => self.leader.handle_forwarded(2, w, self.now),
                    Submission::Sync(t) => self.syncs.push(t),
                    Submission::Propose(e) => panic!("a follower proposed {e:?}"),
                }
            }
            while let Some(s) = self.leader.poll_submission() {
                busy = true;
                match s {
                    Submission::Propose(e) => {
                        self.unshipped.push_back(e.clone());
                        self.leader.apply_committed(e, self.now);
                    }
                    Submission::Sync(t) => self.leader.sync_done(t, self.now),
                    Submission::Forward(w) => panic!("the leader forwarded {w:?}"),
                }
            }
            if ship {
                while let Some(e) = self.unshipped.pop_front() {
                    busy = true;
                    self.follower.apply_committed(e, self.now);
                }
                for t in std::mem::take(&mut self.syncs) {
                    busy = true;
                    self.follower.sync_done(t, self.now);
                }
            }
            while let Some(o) = self.follower.poll_output() {
                out.push(o);
            }
            while let Some(o) = self.leader.poll_output() {
                self.leader_out.push(o);
            }
            if !busy {
                return out;
            }
        }
    }

    fn send(&mut self, conn: u64, frame: Bytes) -> Vec<(u64, ConnOutput)> {
        self.follower.handle_frame(conn, frame.slice(4..), self.now);
        self.run(true)
    }
}

fn new_session() -> Bytes {
    encode_record(&ConnectRequest {
        timeout_ms: 1000,
        password: Bytes::from_static(&[0; 16]),
        ..Default::default()
    })
}

fn connect_response(out: &[(u64, ConnOutput)]) -> ConnectResponse {
    let Some((_, ConnOutput::Frame(f))) = out.first() else {
        panic!("no handshake reply in {out:?}")
    };
    ConnectResponse::from_bytes(f.slice(4..)).unwrap()
}

/// (xid, err) of each reply to `conn` in `out`.
fn headers(conn: u64, out: &[(u64, ConnOutput)]) -> Vec<(i32, i32)> {
    out.iter()
        .filter(|(c, _)| *c == conn)
        .filter_map(|(_, o)| match o {
            ConnOutput::Frame(f) => ReplyHeader::from_bytes(f.slice(4..20)).ok(),
            ConnOutput::Close => None,
        })
        .map(|h| (h.xid, h.err))
        .collect()
}

#[test]
fn follower_forwards_writes_and_answers_its_client() {
    let mut p = Pair::new();
    p.follower.open_connection(1, peer());
    let resp = connect_response(&p.send(1, new_session()));
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
    let out = p.run(true);
    let replies = decode_for(1, OpCode::Create2, out.clone());
    assert_eq!(replies[0].header.xid, 1);
    assert_eq!(replies[0].header.zxid, (1 << 32) + 2);
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

#[test]
fn sync_on_a_follower_waits_for_the_leaders_commits() {
    let mut p = Pair::new();
    // A client of the leader writes; the follower has not applied it yet.
    p.leader.open_connection(9, peer());
    p.leader.handle_frame(9, new_session().slice(4..), p.now);
    p.follower.open_connection(1, peer());
    p.follower.handle_frame(1, new_session().slice(4..), p.now);
    p.run(true);
    let frame = encode_request(1, &create("/x", 0));
    p.leader.handle_frame(9, frame.slice(4..), p.now);
    p.run(false);
    let sync = Request::Sync(PathRequest { path: "/x".into() });
    p.follower
        .handle_frame(1, encode_request(5, &sync).slice(4..), p.now);
    let exists = Request::Exists(PathWatchRequest {
        path: "/x".into(),
        watch: false,
    });
    p.follower
        .handle_frame(1, encode_request(6, &exists).slice(4..), p.now);
    let held = p.run(false);
    assert!(
        held.is_empty(),
        "sync answered before catching up: {held:?}"
    );
    let out = p.run(true);
    assert_eq!(headers(1, &out), [(5, 0), (6, 0)]);
}

#[test]
fn reattach_to_a_session_the_follower_has_not_applied_yet() {
    let mut p = Pair::new();
    p.leader.open_connection(9, peer());
    p.leader.handle_frame(9, new_session().slice(4..), p.now);
    p.run(false);
    let created = connect_response(&std::mem::take(&mut p.leader_out));
    // The client moves to the follower at once, pipelining a read.
    p.follower.open_connection(1, peer());
    let reattach = encode_record(&ConnectRequest {
        timeout_ms: 1000,
        session_id: created.session_id,
        password: created.password.clone(),
        ..Default::default()
    });
    p.follower.handle_frame(1, reattach.slice(4..), p.now);
    let exists = Request::Exists(PathWatchRequest {
        path: "/".into(),
        watch: false,
    });
    p.follower
        .handle_frame(1, encode_request(1, &exists).slice(4..), p.now);
    assert!(p.run(false).is_empty(), "decided before the sync");
    let out = p.run(true);
    let resp = connect_response(&out);
    assert_eq!(resp.session_id, created.session_id);
    assert_eq!(headers(1, &out[1..]), [(1, 0)]);

    // An unknown session is still refused after the sync.
    p.follower.open_connection(2, peer());
    let bogus = 0x0100_0000_0000_0042_i64;
    let password = crate::server::sessions::session_password(bogus, p.follower.config().secret);
    let reattach = encode_record(&ConnectRequest {
        timeout_ms: 1000,
        session_id: bogus,
        password: Bytes::copy_from_slice(&password),
        ..Default::default()
    });
    let out = p.send(2, reattach);
    assert_eq!(connect_response(&out).timeout_ms, 0);
    assert!(closed(2, &out));
}

#[test]
fn a_server_that_is_down_refuses_handshakes_and_stopping_closes_connections() {
    let mut p = Pair::new();
    p.follower.open_connection(1, peer());
    connect_response(&p.send(1, new_session()));
    p.follower.stop_serving();
    let out = p.run(true);
    assert!(closed(1, &out));
    p.follower.connection_closed(1);
    p.follower.open_connection(2, peer());
    let out = p.send(2, new_session());
    assert_eq!(out, vec![(2, ConnOutput::Close)], "closed without a reply");
}
