//! Message races at the end of an election, driven message by message.

use bytes::Bytes;
use std::time::{Duration, Instant};

use crate::storage::{LogEntry, Recovered};
use crate::zab::{
    make_zxid, Member, Notification, Output, PeerState, Role, Vote, ZabConfig, ZabMessage,
};

fn member(id: u64, log: &[u32]) -> Member {
    let recovered = Recovered {
        log: log
            .iter()
            .map(|&c| LogEntry {
                zxid: make_zxid(0, c),
                payload: Bytes::new(),
            })
            .collect(),
        ..Recovered::default()
    };
    Member::new(ZabConfig::new(id, vec![1, 2, 3]), recovered, Instant::now()).unwrap()
}

fn vote(leader: u64, last: u32, round: u64, state: PeerState) -> ZabMessage {
    ZabMessage::Vote(Notification {
        vote: Vote {
            leader,
            zxid: make_zxid(0, last),
            epoch: 0,
        },
        round,
        state,
    })
}

fn sent(m: &mut Member) -> Vec<(u64, ZabMessage)> {
    std::iter::from_fn(|| m.poll_output())
        .filter_map(|o| match o {
            Output::Send { to, msg } => Some((to, msg)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_followerinfo_that_arrives_before_the_leader_decides_is_kept() {
    // Member 2 has the longest log; member 1 decided first and reached it.
    let now = Instant::now();
    let mut m = member(2, &[1, 2]);
    sent(&mut m);
    m.step(
        now,
        1,
        ZabMessage::FollowerInfo {
            accepted_epoch: 0,
            last_zxid: 0,
        },
    );
    assert_eq!(m.role(), Role::Looking);
    m.step(now, 1, vote(2, 2, 1, PeerState::Looking));
    m.step(now, 3, vote(2, 2, 1, PeerState::Looking));
    assert_eq!(m.role(), Role::Leading);
    assert!(
        sent(&mut m)
            .iter()
            .any(|(to, msg)| *to == 1 && matches!(msg, ZabMessage::LeaderInfo { .. })),
        "the early follower got LEADERINFO without asking again"
    );
}

#[test]
fn a_stale_looking_vote_from_the_new_leader_does_not_unsettle_a_follower() {
    let now = Instant::now();
    let mut m = member(1, &[]);
    m.step(now, 2, vote(3, 0, 1, PeerState::Looking));
    m.step(now, 3, vote(3, 0, 1, PeerState::Looking));
    assert_eq!((m.role(), m.leader()), (Role::Following, Some(3)));
    // Sent by 3 before it decided, delivered after we did.
    m.step(now, 3, vote(3, 0, 1, PeerState::Looking));
    assert_eq!(m.role(), Role::Following, "stale vote ignored");
    // A vote of a later round means the leader really started over.
    m.step(now, 3, vote(3, 0, 2, PeerState::Looking));
    assert_eq!(m.role(), Role::Looking);
}

#[test]
fn a_connecting_follower_repeats_its_followerinfo() {
    let now = Instant::now();
    let mut m = member(1, &[]);
    m.step(now, 2, vote(3, 0, 1, PeerState::Looking));
    m.step(now, 3, vote(3, 0, 1, PeerState::Looking));
    assert_eq!(m.role(), Role::Following);
    let first = sent(&mut m);
    assert!(first
        .iter()
        .any(|(to, msg)| *to == 3 && matches!(msg, ZabMessage::FollowerInfo { .. })));
    let later = now + Duration::from_millis(150);
    m.handle_timeout(later);
    assert!(
        sent(&mut m)
            .iter()
            .any(|(to, msg)| *to == 3 && matches!(msg, ZabMessage::FollowerInfo { .. })),
        "FOLLOWERINFO sent again while the leader is silent"
    );
    assert_eq!(m.role(), Role::Following);
}

/// An observer that starts late finds the voters' first votes of the round
/// in its mailbox: two voters still naming member 2 (member 3 had not
/// started when they voted). Two of three voters plus the observer's own
/// notification are not "every member agrees": it waits for the finalize
/// tick, and the voters' later votes for member 3 win.
#[test]
fn a_late_observer_does_not_decide_on_stale_votes() {
    let now = Instant::now();
    let mut cfg = ZabConfig::new(4, vec![1, 2, 3]);
    cfg.observers = vec![4];
    let mut m = Member::new(cfg, Recovered::default(), now).unwrap();
    sent(&mut m);
    m.step(now, 1, vote(2, 0, 1, PeerState::Looking));
    m.step(now, 2, vote(2, 0, 1, PeerState::Looking));
    assert_eq!(m.role(), Role::Looking, "decided on two stale votes");
    for voter in [1, 2, 3] {
        m.step(now, voter, vote(3, 0, 1, PeerState::Looking));
    }
    assert_eq!(m.role(), Role::Following);
    assert_eq!(m.leader(), Some(3));
}
