//! Failpoints fire where they are named, once.

use super::harness::*;
use crate::failpoint::{Action, Failpoint};
use crate::server::ConnOutput;
use crate::storage::Storage;
use bytes::Bytes;
use zk_client::proto::*;

fn session(c: &mut Cluster, member: u64, conn: u64) {
    c.open(member, conn);
    let hs = encode_record(&ConnectRequest {
        timeout_ms: 1000,
        password: Bytes::from_static(&[0; 16]),
        ..Default::default()
    });
    c.frame(member, conn, hs);
    assert!(matches!(
        c.take(member, conn).as_slice(),
        [ConnOutput::Frame(_)]
    ));
}

fn create(path: &str) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags: 0,
    })
}

#[test]
fn a_follower_crashed_before_its_ack_has_the_proposal_durable() {
    let mut c = Cluster::new(3);
    let leader = c.leader().expect("leader");
    let f = (1..=3).find(|&m| m != leader).expect("follower");
    session(&mut c, leader, 1);
    c.members
        .get_mut(&f)
        .expect("follower")
        .set_failpoint(Failpoint::BeforeAck, Action::Crash);
    c.frame(leader, 1, encode_request(1, &create("/a")));
    // The other follower's ack commits the write.
    assert_eq!(c.take(leader, 1).len(), 1, "answered");
    let m = &c.members[&f];
    assert!(m.is_crashed());
    assert_eq!(m.failpoints().hits(), 1);
    let logged = c.stores[&f].clone().recover().expect("recover").log;
    assert_eq!(
        logged.last().map(|e| e.zxid),
        Some(c.members[&leader].last_zxid()),
        "logged before the crash"
    );
}

#[test]
fn rejoin_keeps_memory_and_syncs_again() {
    let mut c = Cluster::new(3);
    let leader = c.leader().expect("leader");
    let f = (1..=3).find(|&m| m != leader).expect("follower");
    session(&mut c, leader, 1);
    c.members
        .get_mut(&f)
        .expect("follower")
        .set_failpoint(Failpoint::BeforeAck, Action::Rejoin);
    c.frame(leader, 1, encode_request(1, &create("/a")));
    assert_eq!(c.take(leader, 1).len(), 1);
    c.advance(TICK * 20);
    let m = &c.members[&f];
    assert!(m.is_serving() && !m.is_crashed());
    assert!(
        m.sync_counts().diff >= 2,
        "synced again: {:?}",
        m.sync_counts()
    );
    assert_eq!(m.digest(), c.members[&leader].digest());
    // Fired once: the next write is acknowledged normally.
    c.frame(leader, 1, encode_request(2, &create("/b")));
    assert_eq!(c.take(leader, 1).len(), 1);
    assert_eq!(c.members[&f].failpoints().hits(), 1);
}
