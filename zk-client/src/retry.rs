//! Retry policies and how safe each request is to repeat.
//!
//! A request that fails with a connection loss may or may not have been
//! applied. Whether sending it again is harmless depends on the operation
//! ([`Idempotence`]); whether to try again, and when, is a [`RetryPolicy`].
//! Policies produce delays through the `backoff` crate's [`Backoff`] trait,
//! so any schedule from that crate (or your own) plugs in.
//!
//! Deadlines are separate: [`crate::Client::with_deadline`] bounds a call,
//! retries included.

use crate::error::Error;
use crate::proto::{CreateMode, Request};
use backoff::backoff::Backoff;
use std::fmt;
use std::time::Duration;

/// How safe a request is to send again after a connection loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotence {
    /// Reads, sync and watch registration: repeating changes nothing.
    Safe,
    /// Writes whose repetition is recognisable: a repeated create answers
    /// `NodeExists`, a repeated delete `NoNode`, a repeated versioned setData
    /// `BadVersion`. The client resolves the cases it can prove (its own
    /// ephemeral node, a delete that already happened) and otherwise marks
    /// the error with [`Error::after_retry`].
    Conditional,
    /// Repeating could apply the change twice (sequential creates, multi,
    /// reconfig, close): never retried automatically. Sequential creates need
    /// the protected form (see zk-recipes) to be retried safely.
    Unsafe,
}

/// Classifies a request.
pub fn idempotence(request: &Request) -> Idempotence {
    match request {
        Request::Exists(_)
        | Request::GetData(_)
        | Request::GetAcl(_)
        | Request::GetChildren(_)
        | Request::GetChildren2(_)
        | Request::Sync(_)
        | Request::MultiRead(_)
        | Request::CheckWatches(_)
        | Request::GetEphemerals(_)
        | Request::GetAllChildrenNumber(_)
        | Request::WhoAmI
        | Request::AddWatch(_)
        | Request::Ping
        | Request::SetWatches(_)
        | Request::SetWatches2(_) => Idempotence::Safe,
        Request::Create(r) | Request::Create2(r) | Request::CreateContainer(r) => {
            create_idempotence(r.flags)
        }
        Request::CreateTtl(r) => create_idempotence(r.flags),
        Request::Delete(_)
        | Request::SetData(_)
        | Request::SetAcl(_)
        | Request::Check(_)
        | Request::RemoveWatches(_) => Idempotence::Conditional,
        Request::Multi(_)
        | Request::Reconfig(_)
        | Request::CloseSession
        | Request::DeleteContainer(_)
        | Request::Auth(_)
        | Request::Sasl(_) => Idempotence::Unsafe,
    }
}

fn create_idempotence(flags: i32) -> Idempotence {
    match CreateMode::from_flags(flags) {
        Ok(mode) if !mode.is_sequential() => Idempotence::Conditional,
        _ => Idempotence::Unsafe,
    }
}

/// Decides whether and when a failed call is tried again.
pub trait RetryPolicy: Send + Sync + fmt::Debug {
    /// A fresh delay schedule for one call; `None` from it ends the retries.
    fn schedule(&self) -> Box<dyn Backoff + Send>;

    /// Whether `error` from a request of this idempotence may be retried.
    /// The default retries retryable errors (connection loss, throttling,
    /// server-side timeouts) of safe and conditional requests.
    fn should_retry(&self, error: &Error, idempotence: Idempotence) -> bool {
        error.is_retryable() && idempotence != Idempotence::Unsafe
    }
}

/// Never retries.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRetry;

impl RetryPolicy for NoRetry {
    fn schedule(&self) -> Box<dyn Backoff + Send> {
        Box::new(backoff::backoff::Stop {})
    }

    fn should_retry(&self, _: &Error, _: Idempotence) -> bool {
        false
    }
}

/// Exponential backoff with jitter (the `backoff` crate's
/// `ExponentialBackoff`), bounded by a number of retries and optionally by
/// elapsed time.
///
/// A request retried after a connection loss waits in the client's queue
/// until the session reconnects, so short delays are enough; the session's
/// own expiry ends retrying (expiry is not retryable).
#[derive(Debug, Clone)]
pub struct ExponentialRetry {
    /// First delay.
    pub initial: Duration,
    /// Largest delay.
    pub max_interval: Duration,
    /// Growth factor per retry.
    pub multiplier: f64,
    /// Jitter: each delay is randomized by ± this fraction.
    pub randomization: f64,
    /// Most retries per call.
    pub max_retries: u32,
    /// Stop retrying once this much time has passed since the first failure.
    pub max_elapsed: Option<Duration>,
}

impl Default for ExponentialRetry {
    fn default() -> Self {
        ExponentialRetry {
            initial: Duration::from_millis(5),
            max_interval: Duration::from_secs(1),
            multiplier: 2.0,
            randomization: 0.3,
            max_retries: 10,
            max_elapsed: None,
        }
    }
}

impl RetryPolicy for ExponentialRetry {
    fn schedule(&self) -> Box<dyn Backoff + Send> {
        let inner = backoff::ExponentialBackoffBuilder::new()
            .with_initial_interval(self.initial)
            .with_max_interval(self.max_interval)
            .with_multiplier(self.multiplier)
            .with_randomization_factor(self.randomization)
            .with_max_elapsed_time(self.max_elapsed)
            .build();
        Box::new(Limited {
            inner,
            left: self.max_retries,
        })
    }
}

/// Caps another schedule's number of delays.
struct Limited<B> {
    inner: B,
    left: u32,
}

impl<B: Backoff> Backoff for Limited<B> {
    fn next_backoff(&mut self) -> Option<Duration> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        self.inner.next_backoff()
    }

    fn reset(&mut self) {
        self.inner.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{CreateRequest, PathRequest};

    #[test]
    fn classification() {
        let create = |flags| {
            Request::Create2(CreateRequest {
                path: "/a".into(),
                data: None,
                acl: vec![],
                flags,
            })
        };
        assert_eq!(idempotence(&create(0)), Idempotence::Conditional);
        assert_eq!(idempotence(&create(1)), Idempotence::Conditional);
        assert_eq!(idempotence(&create(2)), Idempotence::Unsafe);
        assert_eq!(idempotence(&create(3)), Idempotence::Unsafe);
        assert_eq!(idempotence(&create(99)), Idempotence::Unsafe);
        assert_eq!(
            idempotence(&Request::Sync(PathRequest { path: "/".into() })),
            Idempotence::Safe
        );
        assert_eq!(idempotence(&Request::Multi(vec![])), Idempotence::Unsafe);
    }

    #[test]
    fn policies() {
        let loss = Error::connection_loss();
        let p = ExponentialRetry {
            max_retries: 3,
            randomization: 0.0,
            ..ExponentialRetry::default()
        };
        assert!(p.should_retry(&loss, Idempotence::Safe));
        assert!(p.should_retry(&loss, Idempotence::Conditional));
        assert!(!p.should_retry(&loss, Idempotence::Unsafe));
        assert!(!p.should_retry(&Error::session_expired(), Idempotence::Safe));
        assert!(!p.should_retry(&Error::from_code(-101), Idempotence::Safe));
        let mut s = p.schedule();
        let delays: Vec<_> = std::iter::from_fn(|| s.next_backoff()).collect();
        assert_eq!(
            delays,
            vec![
                Duration::from_millis(5),
                Duration::from_millis(10),
                Duration::from_millis(20)
            ]
        );
        assert!(!NoRetry.should_retry(&loss, Idempotence::Safe));
        assert_eq!(NoRetry.schedule().next_backoff(), None);
    }
}
