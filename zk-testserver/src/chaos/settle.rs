//! The last wait before the checkers: until the ensemble has ended every
//! session the workload closed.
//!
//! `zk_client::Client::close` returns `Ok` also when the server never got
//! the closeSession — no member was connected, or the connection dropped
//! before the reply — as ZooKeeper's own clients do. Such a session ends at
//! the server only when its timeout passes, on the leader's clock, and its
//! ephemerals rightly live until then. A fixed wait raced that expiry: on a
//! starved machine the views were read first, and the ephemerals checker
//! reported the closed session's ephemerals.

use crate::check::members::first_held;
use crate::check::{MemberView, Violation};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// The members' views, read with `read` every `tick` until no member holds
/// any session of `closed`; a liveness violation naming the session if one
/// is still held after `limit`.
pub(super) async fn views_once_ended<F, Fut>(
    mut read: F,
    closed: &[i64],
    tick: Duration,
    limit: Duration,
) -> Result<Vec<MemberView>, Violation>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Vec<MemberView>, Violation>>,
{
    tracing::debug!(
        sessions = closed.len(),
        "waiting for closed sessions to end"
    );
    let deadline = Instant::now() + limit;
    loop {
        let views = read().await?;
        let Some((member, session)) = first_held(closed, &views) else {
            return Ok(views);
        };
        if Instant::now() >= deadline {
            return Err(Violation::new(
                "liveness",
                format!(
                    "member {member} still holds session {session:#x}, which its client \
                     closed, {limit:?} after the faults were healed"
                ),
            ));
        }
        tracing::debug!(
            member,
            session = format_args!("{session:#x}"),
            "waiting for a closed session to end"
        );
        tokio::time::sleep(tick).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::members::tests::view;
    use crate::check::members::{check_ephemerals, closed_sessions};
    use crate::check::{Call, History, Ret};
    use std::cell::Cell;

    const SESSION: i64 = 0x2a;

    /// Seed 569's history: an ephemeral, then a close that returned `Ok`
    /// without the server's reply.
    fn history() -> History {
        let mut h = History::new();
        let t = Duration::ZERO;
        let create = Call::CreateEphemeral {
            path: "/eph/p4-188".into(),
        };
        h.record(4, SESSION, create, t, Ret::Ok, Some(0x100));
        h.record(4, SESSION, Call::Close, t, Ret::Ok, None);
        h
    }

    /// The ensemble as seen on successive reads: the closed session and its
    /// ephemeral live on for `held` reads (its close never arrived; it has
    /// not timed out yet), then it expires.
    fn ensemble(held: usize, reads: &Cell<usize>) -> Vec<MemberView> {
        reads.set(reads.get() + 1);
        if reads.get() <= held {
            vec![
                view(1, &[SESSION], &[("/eph/p4-188", SESSION)]),
                view(2, &[SESSION], &[("/eph/p4-188", SESSION)]),
            ]
        } else {
            vec![view(1, &[], &[]), view(2, &[], &[])]
        }
    }

    #[tokio::test]
    async fn views_wait_until_an_unconfirmed_close_has_ended_the_session() {
        let h = history();
        let closed: Vec<i64> = closed_sessions(&h).into_keys().collect();
        let reads = Cell::new(0);
        let read = || {
            let views = ensemble(3, &reads);
            async move { Ok(views) }
        };
        let views = views_once_ended(
            read,
            &closed,
            Duration::from_millis(1),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
        // The session was still held at the first three reads: views read
        // then (as after a fixed wait on a starved machine) fail the check.
        assert_eq!(reads.get(), 4);
        assert!(check_ephemerals(&h, &ensemble(1, &Cell::new(0))).is_err());
        assert_eq!(check_ephemerals(&h, &views), Ok(0));
    }

    #[tokio::test]
    async fn a_closed_session_the_ensemble_never_ends_is_a_liveness_violation() {
        let h = history();
        let closed: Vec<i64> = closed_sessions(&h).into_keys().collect();
        let reads = Cell::new(0);
        let read = || {
            let views = ensemble(usize::MAX, &reads);
            async move { Ok(views) }
        };
        let v = views_once_ended(
            read,
            &closed,
            Duration::from_millis(1),
            Duration::from_millis(20),
        )
        .await
        .unwrap_err();
        assert_eq!(v.checker, "liveness");
        assert!(v.message.contains("0x2a"), "{v}");
        assert!(reads.get() > 1);
    }

    #[tokio::test]
    async fn sessions_not_closed_by_their_client_are_not_waited_for() {
        // Only closes are waited for: a session the client still uses, or
        // one that expired under it, is judged by the checker as it is.
        let mut h = History::new();
        h.record(1, 7, Call::SessionLost, Duration::ZERO, Ret::Ok, None);
        h.record(1, SESSION, Call::Close, Duration::ZERO, Ret::Unknown, None);
        assert!(closed_sessions(&h).is_empty());
        let reads = Cell::new(0);
        let read = || {
            let views = ensemble(usize::MAX, &reads);
            async move { Ok(views) }
        };
        let views = views_once_ended(read, &[], Duration::from_millis(1), Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(reads.get(), 1);
        assert_eq!(views.len(), 2);
    }
}
