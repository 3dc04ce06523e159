//! The pause a recipe takes before trying again after a failed step (a
//! request refused while the session reconnects, a watch that could not be
//! set again).
//!
//! One schedule for every such loop: exponential from 50 ms to 1 s with
//! ±50 % jitter, so that the many clients an outage hit together do not
//! retry together, and reset after a success. Failures that are not worth
//! retrying (a lost session, a closed client) are each loop's to decide.

use backoff::backoff::Backoff;
use backoff::ExponentialBackoff;
use std::time::Duration;

/// First pause.
const FIRST: Duration = Duration::from_millis(50);
/// Longest pause (before jitter).
const LONGEST: Duration = Duration::from_secs(1);

/// Successive pauses of one retry loop.
#[derive(Debug)]
pub(crate) struct RetryPause {
    schedule: ExponentialBackoff,
}

impl RetryPause {
    pub(crate) fn new() -> RetryPause {
        RetryPause {
            schedule: ExponentialBackoff {
                current_interval: FIRST,
                initial_interval: FIRST,
                randomization_factor: 0.5,
                multiplier: 2.0,
                max_interval: LONGEST,
                // Never gives up: the loop decides when to stop.
                max_elapsed_time: None,
                ..ExponentialBackoff::default()
            },
        }
    }

    /// The next pause of the schedule.
    pub(crate) fn next(&mut self) -> Duration {
        self.schedule.next_backoff().unwrap_or(LONGEST)
    }

    /// Sleeps for the next pause.
    pub(crate) async fn wait(&mut self) {
        tokio::time::sleep(self.next()).await;
    }

    /// Starts the schedule over (after a success).
    pub(crate) fn reset(&mut self) {
        self.schedule.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_from_50_ms_to_about_a_second_with_jitter_and_reset() {
        let mut pause = RetryPause::new();
        let first = pause.next();
        assert!(first >= FIRST / 2 && first <= FIRST * 3 / 2, "{first:?}");
        for _ in 0..20 {
            let p = pause.next();
            assert!(p <= LONGEST * 3 / 2, "{p:?}");
        }
        // After many failures the pause is near the longest.
        let late = pause.next();
        assert!(late >= LONGEST / 2, "{late:?}");
        pause.reset();
        let again = pause.next();
        assert!(again <= FIRST * 3 / 2, "{again:?}");
    }

    #[test]
    fn two_loops_do_not_pause_in_step() {
        let (mut a, mut b) = (RetryPause::new(), RetryPause::new());
        let same = (0..20).filter(|_| a.next() == b.next()).count();
        assert!(same < 5, "{same} of 20 pauses were equal");
    }
}
