//! What a client port lets one client hold: connections per address, time to
//! finish a handshake, and replies waiting for a client that does not read.
//!
//! A connection stops reading requests while its replies pile up unread, as
//! ZooKeeper stops selecting a throttled connection for reads: [`Flow`]
//! counts, per connection, the requests handed to the member and not yet
//! answered and the reply bytes not yet written; [`OutboundBudget`] counts the
//! reply bytes of every connection of the port together. Over either bound
//! the connection leaves its requests in the socket (TCP pushes back on the
//! client) until enough of its replies are written; nothing is dropped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// Bounds a client port enforces on its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections one client address may hold at once (ZooKeeper's
    /// `maxClientCnxns`, default 60; 0 = no limit). Over it a new connection
    /// is reset as soon as it is accepted.
    pub max_per_address: usize,
    /// How long a connection may take to send its whole first frame (the
    /// handshake, or a four-letter word) before it is closed (ZooKeeper's
    /// `zookeeper.nio.sessionlessCnxnTimeout`, default 10 s).
    pub handshake_timeout: Duration,
    /// Requests of one connection handed to the member and not yet
    /// answered, beyond which the connection stops reading (default 256).
    /// Fewer go while replies are large: the connection keeps the requests
    /// in flight times its largest recent reply, plus what it has not
    /// written, under `max_queued_bytes`.
    pub max_in_flight: usize,
    /// Reply bytes of one connection not yet written to its socket, beyond
    /// which it stops reading (default 4 MiB).
    pub max_queued_bytes: usize,
    /// Reply bytes of every connection of the port together, beyond which a
    /// connection with anything in flight or unwritten stops reading
    /// (default 64 MiB).
    pub max_total_queued_bytes: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_per_address: 60,
            handshake_timeout: Duration::from_secs(10),
            max_in_flight: 256,
            max_queued_bytes: 4 << 20,
            max_total_queued_bytes: 64 << 20,
        }
    }
}

/// Reply bytes queued for every connection of one client port, and a signal
/// for the connections waiting for it to drop under its bound.
#[derive(Debug)]
pub struct OutboundBudget {
    used: AtomicUsize,
    limit: usize,
    drained: Notify,
}

impl OutboundBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> OutboundBudget {
        OutboundBudget {
            used: AtomicUsize::new(0),
            limit,
            drained: Notify::new(),
        }
    }

    /// Bytes queued now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Whether the queued bytes exceed the bound.
    pub fn exhausted(&self) -> bool {
        self.used() > self.limit
    }

    fn take(&self, n: usize) {
        self.used.fetch_add(n, Ordering::Relaxed);
    }

    fn give_back(&self, n: usize) {
        let before = self.used.fetch_sub(n, Ordering::Relaxed);
        if before > self.limit && before - n <= self.limit {
            self.drained.notify_waiters();
        }
    }

    /// Completes once the budget drops under its bound after this call (a
    /// waiter created before checking [`OutboundBudget::exhausted`] misses
    /// no wakeup).
    pub fn drained(&self) -> tokio::sync::futures::Notified<'_> {
        self.drained.notified()
    }
}

/// One connection's share: requests in flight and reply bytes not yet
/// written. Dropping it returns its bytes to the port's budget.
#[derive(Debug)]
pub struct Flow<'a> {
    budget: &'a OutboundBudget,
    limits: ConnectionLimits,
    in_flight: usize,
    queued: usize,
    /// The largest recent reply (decays by 1/16 with each smaller one).
    reply_estimate: usize,
}

impl<'a> Flow<'a> {
    /// A connection with nothing in flight, drawing on `budget`.
    pub fn new(budget: &'a OutboundBudget, limits: ConnectionLimits) -> Flow<'a> {
        Flow {
            budget,
            limits,
            in_flight: 0,
            queued: 0,
            reply_estimate: 0,
        }
    }

    /// The port's budget this connection draws on.
    pub fn budget(&self) -> &'a OutboundBudget {
        self.budget
    }

    /// A request was handed to the member.
    pub fn forwarded(&mut self) {
        self.in_flight += 1;
    }

    /// The member produced a frame of `len` bytes for the connection; `reply`
    /// when it answers a request (not a watch notification).
    pub fn produced(&mut self, len: usize, reply: bool) {
        if reply {
            self.in_flight = self.in_flight.saturating_sub(1);
            self.reply_estimate = len.max(self.reply_estimate - self.reply_estimate / 16);
        }
        self.queued += len;
        self.budget.take(len);
    }

    /// `len` bytes were written to the socket.
    pub fn written(&mut self, len: usize) {
        let len = len.min(self.queued);
        self.queued -= len;
        self.budget.give_back(len);
    }

    /// Requests in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Reply bytes not yet written.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Whether the connection may hand another request to the member: under
    /// its own bounds, and either under the port's budget or with nothing of
    /// its own outstanding (so that one slow reader holding the budget does
    /// not stop the others; they go on one request at a time).
    pub fn may_forward(&self) -> bool {
        self.under_own_bounds()
            && (!self.budget.exhausted() || (self.in_flight == 0 && self.queued == 0))
    }

    fn under_own_bounds(&self) -> bool {
        let expected = self
            .in_flight
            .saturating_mul(self.reply_estimate)
            .saturating_add(self.queued);
        self.queued <= self.limits.max_queued_bytes
            && (self.in_flight == 0
                || (self.in_flight < self.limits.max_in_flight
                    && expected <= self.limits.max_queued_bytes))
    }

    /// Whether only the port's budget keeps this connection from reading.
    pub fn waits_for_budget(&self) -> bool {
        !self.may_forward() && self.under_own_bounds()
    }
}

impl Drop for Flow<'_> {
    fn drop(&mut self) {
        self.budget.give_back(self.queued);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            max_in_flight: 3,
            max_queued_bytes: 100,
            max_total_queued_bytes: 150,
            ..ConnectionLimits::default()
        }
    }

    #[test]
    fn a_connection_stops_at_its_own_bounds_and_resumes_as_it_drains() {
        let budget = OutboundBudget::new(limits().max_total_queued_bytes);
        let mut f = Flow::new(&budget, limits());
        for _ in 0..3 {
            assert!(f.may_forward());
            f.forwarded();
        }
        assert!(!f.may_forward(), "three requests in flight");
        f.produced(10, true);
        f.produced(5, false);
        assert_eq!((f.in_flight(), f.queued()), (2, 15));
        assert!(f.may_forward(), "small replies: 2 x 10 + 15 expected");
        f.produced(60, true);
        assert!(!f.may_forward(), "one more 60-byte reply expected: 135");
        assert!(!f.waits_for_budget());
        f.written(40);
        assert!(f.may_forward());
        f.produced(90, true);
        assert!(!f.may_forward(), "125 bytes unwritten, nothing in flight");
        f.written(25);
        assert!(f.may_forward());
        assert_eq!(budget.used(), 100);
        drop(f);
        assert_eq!(budget.used(), 0, "a closed connection returns its bytes");
    }

    #[tokio::test]
    async fn the_port_budget_holds_back_busy_connections_only() {
        let budget = OutboundBudget::new(limits().max_total_queued_bytes);
        let mut slow = Flow::new(&budget, limits());
        let mut busy = Flow::new(&budget, limits());
        let idle = Flow::new(&budget, limits());
        slow.forwarded();
        slow.produced(130, true);
        busy.forwarded();
        busy.forwarded();
        busy.produced(30, true);
        assert!(budget.exhausted());
        assert!(!busy.may_forward() && busy.waits_for_budget());
        assert!(
            idle.may_forward(),
            "nothing outstanding: one request may go"
        );
        let drained = budget.drained();
        slow.written(130);
        assert!(!budget.exhausted());
        tokio::time::timeout(Duration::from_secs(5), drained)
            .await
            .expect("waiters are woken when the budget drains");
        assert!(busy.may_forward());
    }
}
