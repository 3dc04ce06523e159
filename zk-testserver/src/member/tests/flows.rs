//! Request flows across members: forwarding and the single reply, sync,
//! losing the leader, a lost forward.

use super::harness::*;
use crate::server::ConnOutput;
use crate::zab::ZabMessage;
use bytes::Bytes;
use zk_client::proto::*;

fn handshake() -> Bytes {
    encode_record(&ConnectRequest {
        timeout_ms: 1000,
        password: Bytes::from_static(&[0; 16]),
        ..Default::default()
    })
}

fn create(path: &str) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags: 0,
    })
}

/// (xid, err) of the replies among `out` (handshake replies skipped).
fn replies(out: &[ConnOutput]) -> Vec<(i32, i32)> {
    out.iter()
        .filter_map(|o| match o {
            ConnOutput::Frame(f) if f.len() >= 20 => ReplyHeader::from_bytes(f.slice(4..20)).ok(),
            _ => None,
        })
        .filter(|h| h.xid > 0)
        .map(|h| (h.xid, h.err))
        .collect()
}

fn follower_of(c: &Cluster) -> u64 {
    let leader = c.leader().expect("leader");
    (1..=3).find(|&m| m != leader).expect("follower")
}

#[test]
fn a_follower_forwards_and_answers_its_client_exactly_once() {
    let mut c = Cluster::new(3);
    let leader = c.leader().expect("a leader at once");
    let f = follower_of(&c);
    c.open(f, 1);
    c.frame(f, 1, handshake());
    assert!(matches!(c.take(f, 1).as_slice(), [ConnOutput::Frame(_)]));
    c.frame(f, 1, encode_request(1, &create("/a")));
    c.frame(f, 1, encode_request(2, &create("/a")));
    assert_eq!(replies(&c.take(f, 1)), [(1, 0), (2, -110)]);
    // Nothing went to any connection elsewhere.
    assert!(c.client_out.is_empty(), "{:?}", c.client_out);
    let digests: Vec<u64> = c.members.values().map(|m| m.digest()).collect();
    assert!(digests.iter().all(|d| *d == digests[0]));
    assert_eq!(c.members[&leader].last_zxid(), c.members[&f].last_zxid());
}

#[test]
fn losing_the_leader_closes_follower_connections_and_fails_their_writes() {
    let mut c = Cluster::new(3);
    let leader = c.leader().expect("leader");
    let f = follower_of(&c);
    c.open(f, 1);
    c.frame(f, 1, handshake());
    c.take(f, 1);
    // The leader falls silent (a partition: no reset).
    c.filter = Box::new(move |from, to, _| from != leader && to != leader);
    c.frame(f, 1, encode_request(1, &create("/never")));
    assert!(c.take(f, 1).is_empty(), "no answer without the leader");
    c.advance(TICK * 8);
    assert_eq!(
        c.take(f, 1),
        [ConnOutput::Close],
        "failed by closing, not answered"
    );
    assert!(!c.members[&f].is_serving() || c.members[&f].status().leader != Some(leader));
}

#[test]
fn a_lost_forward_makes_the_leader_drop_the_follower() {
    let mut c = Cluster::new(3);
    let f = follower_of(&c);
    c.open(f, 1);
    c.frame(f, 1, handshake());
    c.take(f, 1);
    // Lose exactly the next App message from the follower (a forward).
    let mut lost = false;
    c.filter = Box::new(move |from, _, msg| {
        if from == f && !lost && matches!(msg, ZabMessage::App(_)) {
            lost = true;
            return false;
        }
        true
    });
    c.frame(f, 1, encode_request(1, &create("/lost")));
    assert!(c.take(f, 1).is_empty());
    // The next touch report shows the hole; the follower is dropped, times
    // out, rejoins, and closes the connection whose write was lost.
    c.advance(TICK * 10);
    assert_eq!(c.take(f, 1), [ConnOutput::Close]);
    assert!(c.members[&f].is_serving(), "rejoined");
}

#[test]
fn sync_on_a_follower_applies_the_leaders_commits_first_even_if_a_commit_was_lost() {
    let mut c = Cluster::new(3);
    let leader = c.leader().expect("leader");
    let f = follower_of(&c);
    for (m, conn) in [(leader, 1), (f, 2)] {
        c.open(m, conn);
        c.frame(m, conn, handshake());
        c.take(m, conn);
    }
    // Commits to the follower are lost while the leader writes.
    c.filter = Box::new(move |from, to, msg| {
        !(from == leader && to == f && matches!(msg, ZabMessage::Commit(_)))
    });
    c.frame(leader, 1, encode_request(1, &create("/x")));
    assert_eq!(replies(&c.take(leader, 1)), [(1, 0)]);
    assert!(c.members[&f].last_zxid() < c.members[&leader].last_zxid());
    let sync = Request::Sync(PathRequest { path: "/x".into() });
    let exists = Request::Exists(PathWatchRequest {
        path: "/x".into(),
        watch: false,
    });
    c.frame(f, 2, encode_request(5, &sync));
    c.frame(f, 2, encode_request(6, &exists));
    // The leader's reply carries its commit point: applied before answering.
    assert_eq!(replies(&c.take(f, 2)), [(5, 0), (6, 0)]);
    assert_eq!(c.members[&f].last_zxid(), c.members[&leader].last_zxid());
}
