//! When to try the next connection: the pause before each attempt, with no
//! I/O and no clock of its own, so the driver and the simulator pace their
//! reconnects with the same code. [`Doubling`] is the one schedule the
//! session layer's own waits grow by (reconnect rounds, read-only probes);
//! retries of calls are [`crate::retry`]'s policies, on the `backoff` crate.

use std::time::{Duration, Instant};

/// Paces connection attempts.
///
/// Every attempt counts as failed until its connection proves itself by
/// outliving the "young" window (a third of the negotiated session timeout)
/// after its handshake. The first round over the hosts goes at once; later
/// rounds back off (see [`ReconnectPacer::next_attempt`]). So a connection
/// that dies right after a good handshake (a server that closes it at
/// once, two clients attached to one session taking it from each other)
/// backs off like a refused one, while a connection that served for a
/// while is replaced at once when it drops.
#[derive(Debug, Clone)]
pub struct ReconnectPacer {
    hosts: u32,
    failed: u32,
    /// When the current connection's session was established, and how long
    /// it must live to count as a success.
    established: Option<(Instant, Duration)>,
}

impl ReconnectPacer {
    /// A pacer for an ensemble of `hosts` client addresses.
    pub fn new(hosts: usize) -> ReconnectPacer {
        ReconnectPacer {
            hosts: u32::try_from(hosts.max(1)).unwrap_or(u32::MAX),
            failed: 0,
            established: None,
        }
    }

    /// A connection attempt is about to start at `now`: returns the pause
    /// to take first. A connection whose session was established is judged
    /// here by its age: one that lived at least the young window resets the
    /// count of failures, a younger one counts as a failure.
    pub fn next_attempt(&mut self, now: Instant, rng: &mut impl rand::Rng) -> Duration {
        if let Some((at, young)) = self.established.take() {
            if now.saturating_duration_since(at) >= young {
                self.failed = 0;
            }
        }
        let pause = pause_after(self.failed, self.hosts, rng);
        self.failed = self.failed.saturating_add(1);
        pause
    }

    /// The handshake on the current connection succeeded at `now`, with
    /// this negotiated session timeout.
    pub fn session_established(&mut self, now: Instant, session_timeout: Duration) {
        self.established = Some((now, young_window(session_timeout)));
    }

    /// Attempts in a row that have not (yet) proved themselves.
    pub fn failed_attempts(&self) -> u32 {
        self.failed
    }
}

/// A delay that doubles each round, from `first` up to `max`: round 0
/// waits `first`, round 1 twice that, and so on. Pure (no clock, no
/// randomness): a caller that wants jitter draws it within the delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Doubling {
    first: Duration,
    max: Duration,
}

impl Doubling {
    /// A schedule from `first` doubling up to `max`.
    pub(crate) const fn new(first: Duration, max: Duration) -> Doubling {
        Doubling { first, max }
    }

    /// The delay of round `round` (0 is the first).
    pub(crate) fn delay(&self, round: u32) -> Duration {
        let factor = 1u32.checked_shl(round).unwrap_or(u32::MAX);
        self.first.saturating_mul(factor).min(self.max)
    }
}

/// The ceiling of the reconnect pause: 10 ms after the first round over the
/// hosts, doubling up to 1 s.
const RECONNECT_CEILING: Doubling =
    Doubling::new(Duration::from_millis(10), Duration::from_secs(1));

/// How long a connection must live after its handshake to count as a
/// success: a third of the session timeout (the client pings every third,
/// so a connection that lived that long carried real traffic).
fn young_window(session_timeout: Duration) -> Duration {
    session_timeout / 3
}

/// The pause before the next connection attempt after `failed_attempts`
/// attempts in a row that did not prove themselves, over `hosts` servers.
///
/// The first round over the hosts goes at once. After that each round backs
/// off, 10 ms doubling up to 1 s, and the pause is drawn at random from the
/// upper half of that ceiling. The randomness matters: clients that lost
/// their connections together (a server restart, two clients holding one
/// session, each of whose handshakes closes the other's connection) must
/// not retry in lockstep, or they keep colliding.
fn pause_after(failed_attempts: u32, hosts: u32, rng: &mut impl rand::Rng) -> Duration {
    let hosts = hosts.max(1);
    if failed_attempts < hosts {
        return Duration::ZERO;
    }
    let round = failed_attempts / hosts;
    let ceiling = RECONNECT_CEILING.delay(round);
    let half = ceiling / 2;
    half + half.mul_f64(rand::RngExt::random_range(rng, 0.0..=1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng(seed: u64) -> rand::rngs::StdRng {
        rand::rngs::StdRng::seed_from_u64(seed)
    }

    #[test]
    fn doubling_starts_at_first_and_stops_at_max() {
        let d = Doubling::new(Duration::from_millis(100), Duration::from_secs(10));
        let delays: Vec<u64> = (0..9).map(|r| d.delay(r).as_millis() as u64).collect();
        assert_eq!(
            delays,
            [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]
        );
        assert_eq!(d.delay(31), Duration::from_secs(10));
        assert_eq!(d.delay(u32::MAX), Duration::from_secs(10));
    }

    #[test]
    fn the_first_round_over_the_hosts_goes_at_once() {
        let mut rng = rng(1);
        for attempt in 0..3 {
            assert_eq!(pause_after(attempt, 3, &mut rng), Duration::ZERO);
        }
        assert_eq!(pause_after(0, 0, &mut rng), Duration::ZERO);
    }

    #[test]
    fn later_rounds_back_off_within_the_upper_half_of_a_doubling_ceiling() {
        let mut rng = rng(7);
        for (attempt, ceiling_ms) in [(1, 20), (2, 40), (3, 80), (6, 640), (7, 1000), (40, 1000)] {
            let ceiling = Duration::from_millis(ceiling_ms);
            for _ in 0..200 {
                let d = pause_after(attempt, 1, &mut rng);
                assert!(d >= ceiling / 2 && d <= ceiling, "attempt {attempt}: {d:?}");
            }
        }
    }

    #[test]
    fn two_clients_in_the_same_round_do_not_retry_in_lockstep() {
        // Two clients that failed the same number of times: their pauses
        // must differ (a fixed schedule made two clients sharing a session
        // collide on every retry).
        let mut a = rng(11);
        let mut b = rng(12);
        let distinct = (1..50)
            .filter(|&attempt| pause_after(attempt, 1, &mut a) != pause_after(attempt, 1, &mut b))
            .count();
        assert!(distinct >= 45, "{distinct} of 49 pauses differed");
        let spread: std::collections::BTreeSet<_> =
            (0..100).map(|_| pause_after(5, 1, &mut a)).collect();
        assert!(spread.len() > 50, "only {} distinct pauses", spread.len());
    }

    #[test]
    fn connections_that_die_young_back_off_like_refused_ones() {
        let mut pacer = ReconnectPacer::new(1);
        let mut rng = rng(3);
        let timeout = Duration::from_secs(3);
        let mut now = Instant::now();
        assert_eq!(pacer.next_attempt(now, &mut rng), Duration::ZERO);
        let mut pauses = Vec::new();
        for _ in 0..10 {
            // Each handshake succeeds, and the connection dies 5 ms later.
            pacer.session_established(now, timeout);
            now += Duration::from_millis(5);
            let pause = pacer.next_attempt(now, &mut rng);
            pauses.push(pause);
            now += pause;
        }
        assert!(pauses.iter().all(|p| !p.is_zero()), "{pauses:?}");
        assert!(pauses[9] >= Duration::from_millis(500), "{pauses:?}");
        assert_eq!(pacer.failed_attempts(), 11);
    }

    #[test]
    fn a_connection_that_served_for_a_while_is_replaced_at_once() {
        let mut pacer = ReconnectPacer::new(2);
        let mut rng = rng(5);
        let timeout = Duration::from_secs(3);
        let mut now = Instant::now();
        for _ in 0..6 {
            pacer.next_attempt(now, &mut rng); // refused
        }
        assert!(!pacer.next_attempt(now, &mut rng).is_zero());
        pacer.session_established(now, timeout);
        now += Duration::from_secs(1); // the young window is 1 s
        assert_eq!(pacer.next_attempt(now, &mut rng), Duration::ZERO);
        assert_eq!(
            pacer.next_attempt(now, &mut rng),
            Duration::ZERO,
            "the other host"
        );
        assert!(
            !pacer.next_attempt(now, &mut rng).is_zero(),
            "then back off"
        );
    }
}
