//! Reconnect pacing, end to end: the simulated clients run the driver's own
//! [`HostOrder`](zk_client::session::HostOrder) and
//! [`ReconnectPacer`](zk_client::session::ReconnectPacer), so these
//! scenarios judge the code the real client runs.
//!
//! - Clients that lose their member together must not come back together:
//!   the pauses are drawn at random (a fixed schedule made every client
//!   retry in the same instant, round after round).
//! - Two processes sharing one session take it from each other at every
//!   handshake: a connection that dies young must count as a failure, or
//!   the two reconnect at once, forever (a storm on the member).

use super::support::*;
use crate::sim::Sim;
use std::time::Duration;

const MS: Duration = Duration::from_millis(1);

/// A quiet ensemble on a fast network, sessions of 2 s.
fn sim(seed: u64) -> Sim {
    quiet(seed, |cfg| {
        cfg.session_timeout = 2 * S;
        cfg.net_delay = (MS, 2 * MS);
    })
}

/// The most attempts in any window of `width` among `times`.
fn densest(mut times: Vec<Duration>, width: Duration) -> usize {
    times.sort_unstable();
    (0..times.len())
        .map(|i| {
            times[i..]
                .iter()
                .take_while(|t| **t < times[i] + width)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn clients_that_lose_their_member_together_do_not_retry_in_lockstep() {
    const CLIENTS: usize = 8;
    for seed in [11, 12, 13] {
        let mut sim = sim(seed);
        let leader = sim.leader().expect("leader");
        let member = others(&sim, leader)[0];
        let sessions: Vec<_> = (0..CLIENTS)
            .map(|_| sim.session_on(Some(member), 5 * S).expect("session"))
            .collect();
        let killed = sim.elapsed();
        sim.kill(member, false);
        sim.run_for(1800 * MS);
        // Past the first rounds (10–80 ms pauses, dense by design), every
        // client is still refused and backs off by hundreds of ms.
        let late: Vec<Duration> = sessions
            .iter()
            .flat_map(|s| sim.connect_attempts(s.client()).to_vec())
            .filter(|t| *t >= killed + 300 * MS)
            .collect();
        assert!(late.len() >= CLIENTS * 2, "seed {seed}: {late:?}");
        let herd = densest(late, 10 * MS);
        assert!(
            herd <= CLIENTS / 2,
            "seed {seed}: {herd} of {CLIENTS} clients retried within 10 ms of each other"
        );
    }
}

#[test]
fn two_clients_sharing_a_session_do_not_storm_the_member() {
    for seed in [21, 22, 23] {
        let mut sim = sim(seed);
        let member = sim.leader().expect("leader");
        let first = sim.session_on(Some(member), 5 * S).expect("session");
        let second = sim.attach_client(&first, member);
        let from = sim.elapsed();
        sim.run_for(6 * S);
        let attempts = [first.client(), second]
            .iter()
            .map(|&c| {
                sim.connect_attempts(c)
                    .iter()
                    .filter(|t| **t >= from)
                    .count()
            })
            .sum::<usize>();
        // Each handshake closes the other's connection, so every
        // connection dies young and both back off toward the young window
        // (a third of the session timeout) before one wins for a while: a
        // few attempts a second (about 20 in 6 s here). Reconnecting at
        // once after each lost connection makes hundreds a second.
        assert!(attempts >= 6, "seed {seed}: the clients did not fight");
        assert!(
            attempts <= 6 * 40,
            "seed {seed}: {attempts} connection attempts in 6 s"
        );
    }
}
