//! Malformed peer input never panics a member.

use super::harness::*;
use crate::member::AppMessage;
use crate::server::Database;
use crate::zab::ZabMessage;
use bytes::Bytes;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

fn garbage(rng: &mut Xoshiro256PlusPlus) -> Bytes {
    let len = rng.random_range(0..64);
    (0..len)
        .map(|_| rng.random::<u8>())
        .collect::<Vec<u8>>()
        .into()
}

#[test]
fn garbage_app_messages_and_snapshots_are_refused() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    for _ in 0..2000 {
        let g = garbage(&mut rng);
        let _ = AppMessage::decode(g.clone());
        let _ = Database::from_snapshot(g);
    }
    let mut c = Cluster::new(3);
    let leader = c.leader().expect("leader");
    let now = c.now;
    for i in 0..300 {
        let from = 1 + (i % 3);
        if from == leader {
            continue;
        }
        let msg = ZabMessage::App(garbage(&mut rng));
        c.members
            .get_mut(&leader)
            .expect("leader")
            .handle_peer_message(now, from, msg);
        c.settle();
    }
    assert!(c.members[&leader].is_serving());
}
