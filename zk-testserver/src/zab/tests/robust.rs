//! Arbitrary messages in arbitrary states never panic a member.

use bytes::Bytes;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use std::time::Duration;

use crate::storage::LogEntry;
use crate::zab::harness::{ZabHarness, ZabHarnessConfig};
use crate::zab::{make_zxid, Member, Notification, PeerState, Vote, ZabMessage};

fn zxid(rng: &mut Xoshiro256PlusPlus) -> i64 {
    match rng.random_range(0..4) {
        0 => rng.random_range(-3..3),
        1 => i64::MAX - rng.random_range(0..3),
        _ => make_zxid(rng.random_range(0..4), rng.random_range(0..30)),
    }
}

fn message(rng: &mut Xoshiro256PlusPlus) -> ZabMessage {
    let epoch = rng.random_range(0..5u32);
    let z = zxid(rng);
    match rng.random_range(0..19) {
        0 => {
            let state = [PeerState::Looking, PeerState::Following, PeerState::Leading]
                [rng.random_range(0..3)];
            let vote = Vote {
                leader: rng.random_range(0..5),
                zxid: z,
                epoch,
            };
            ZabMessage::Vote(Notification {
                vote,
                round: rng.random_range(0..6),
                state,
            })
        }
        1 => ZabMessage::FollowerInfo {
            accepted_epoch: epoch,
            last_zxid: z,
        },
        2 => ZabMessage::LeaderInfo { epoch },
        3 => ZabMessage::AckEpoch {
            current_epoch: epoch,
            fresh: rng.random_bool(0.5),
            last_zxid: z,
        },
        4 => ZabMessage::Diff { zxid: z },
        5 => ZabMessage::Trunc { zxid: z },
        6 => ZabMessage::Snap {
            zxid: z,
            data: Bytes::from_static(b"\x00\x01garbage"),
        },
        7 => ZabMessage::Proposal {
            prev: zxid(rng),
            entry: LogEntry {
                zxid: z,
                payload: Bytes::from_static(b"p"),
            },
        },
        8 => ZabMessage::Commit(z),
        9 => ZabMessage::NewLeader { epoch, last: z },
        10 => ZabMessage::AckNewLeader { epoch },
        11 => ZabMessage::UpToDate,
        12 => ZabMessage::Ack(z),
        13 => ZabMessage::Ping {
            last: z,
            committed: zxid(rng),
        },
        14 => ZabMessage::PingReply { acked: z },
        15 => ZabMessage::Sync { token: 1 },
        16 => ZabMessage::SyncReply {
            token: 1,
            committed: z,
        },
        17 => ZabMessage::Inform {
            prev: zxid(rng),
            entry: LogEntry {
                zxid: z,
                payload: Bytes::from_static(b"i"),
            },
        },
        _ => ZabMessage::App(Bytes::from_static(b"app")),
    }
}

#[test]
fn garbage_never_panics() {
    for seed in 0..20u64 {
        let mut sim = ZabHarness::new(3, seed, ZabHarnessConfig::default());
        assert!(sim.settle(Duration::from_secs(5)));
        for i in 0..5 {
            sim.propose(&format!("w{i}"));
        }
        let pause = sim.rng.random_range(0..50);
        sim.run_for(Duration::from_millis(pause));
        let mut members: Vec<Member> = (1..=3)
            .filter_map(|id| sim.nodes.get_mut(&id).and_then(|n| n.member.take()))
            .collect();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut now = sim.now;
        for _ in 0..10_000 {
            let i = rng.random_range(0..members.len());
            let m = &mut members[i];
            match rng.random_range(0..20) {
                0 => {
                    now += Duration::from_millis(rng.random_range(0..300));
                    m.handle_timeout(now);
                }
                1 => m.persisted(now, zxid(&mut rng)),
                2 => {
                    let _ = m.propose(now, Bytes::from_static(b"x"));
                }
                3 => {
                    let _ = m.sync(now, 9);
                }
                _ => {
                    let from = rng.random_range(0..5);
                    m.step(now, from, message(&mut rng));
                }
            }
            while m.poll_output().is_some() {}
            let _ = m.poll_timeout();
        }
    }
}
