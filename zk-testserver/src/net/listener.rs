//! The client port: accepts connections and spawns a task for each, with
//! ZooKeeper's cap on connections per client address and a pause after
//! accept errors (out of descriptors) instead of a busy loop.

use super::connection::PortInfo;
use super::core::Command;
use super::limits::OutboundBudget;
use super::tls;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// First pause after a failed accept; doubled on each failure in a row.
const ACCEPT_PAUSE_MIN: Duration = Duration::from_millis(10);
/// Longest pause after failed accepts.
const ACCEPT_PAUSE_MAX: Duration = Duration::from_secs(1);
/// At most one warning per this interval for refused connections and
/// failed accepts (with a count of what was not logged).
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Accepts until the task is dropped or aborted; connection tasks end with it.
/// With an `acceptor`, every connection is a TLS one (a secure client port).
///
/// # Cancel safety
///
/// Dropping the future stops accepting and drops every connection it
/// serves (see [`super::connection::serve`]); nothing else is lost.
pub async fn accept_loop(
    listener: TcpListener,
    core: mpsc::UnboundedSender<Command>,
    info: PortInfo,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
) {
    accept_moving(listener, None, core, info, acceptor).await;
}

/// [`accept_loop`] on a port that may move: each listener received from
/// `moves` replaces the current one (which closes), while the connections
/// accepted so far stay open — as ZooKeeper's server rebinds its client
/// port when a reconfig gives it a new one.
///
/// # Cancel safety
///
/// As [`accept_loop`].
pub async fn accept_moving(
    mut listener: TcpListener,
    mut moves: Option<mpsc::Receiver<TcpListener>>,
    core: mpsc::UnboundedSender<Command>,
    info: PortInfo,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
) {
    let next = Arc::new(AtomicU64::new(1));
    let budget = Arc::new(OutboundBudget::new(info.limits.max_total_queued_bytes));
    let mut per_address = Addresses::new(info.limits.max_per_address);
    let mut conns = JoinSet::new();
    let mut pause = ACCEPT_PAUSE_MIN;
    let mut accept_warnings = RateLimited::default();
    let mut refusal_warnings = RateLimited::default();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    pause = ACCEPT_PAUSE_MIN;
                    if !per_address.admit(peer.ip()) {
                        refuse(stream);
                        let max = info.limits.max_per_address;
                        refusal_warnings.warn(Instant::now(), |suppressed| tracing::warn!(
                            %peer, max, suppressed,
                            "too many connections from this address; connection reset"
                        ));
                        continue;
                    }
                    let id = next.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%peer, conn = id, "accepted");
                    let (core, budget, acceptor) = (core.clone(), budget.clone(), acceptor.clone());
                    conns.spawn(async move {
                        tls::accepted(stream, peer, id, core, info, acceptor, &budget).await;
                        peer.ip()
                    });
                }
                Err(e) => {
                    accept_warnings.warn(Instant::now(), |suppressed| tracing::warn!(
                        error = %e, ?pause, suppressed, "accept failed; pausing"
                    ));
                    // Out of descriptors (or another transient error): give
                    // closing connections time to free some, without spinning.
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(ACCEPT_PAUSE_MAX);
                }
            },
            moved = next_listener(&mut moves) => match moved {
                Some(moved) => {
                    tracing::info!(addr = ?moved.local_addr().ok(), "client port moved");
                    listener = moved;
                }
                None => moves = None,
            },
            Some(done) = conns.join_next(), if !conns.is_empty() => {
                if let Ok(ip) = done {
                    per_address.release(ip);
                }
            }
        }
    }
}

/// The next listener to move to; None once its sender is gone (and
/// pending forever without `moves`).
async fn next_listener(moves: &mut Option<mpsc::Receiver<TcpListener>>) -> Option<TcpListener> {
    match moves {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Resets a connection at once (RST, as ZooKeeper's `fastCloseSock`).
fn refuse(stream: TcpStream) {
    // Deprecated because a non-zero linger blocks the thread on drop; a zero
    // linger does not block (the close sends a reset at once).
    #[allow(deprecated)]
    let _ = stream.set_linger(Some(Duration::ZERO));
    drop(stream);
}

/// Open connections per client address, against a cap (0: none).
#[derive(Debug)]
struct Addresses {
    max: usize,
    open: HashMap<IpAddr, usize>,
}

impl Addresses {
    fn new(max: usize) -> Addresses {
        Addresses {
            max,
            open: HashMap::new(),
        }
    }

    /// Counts a new connection from `ip`, unless that would pass the cap.
    fn admit(&mut self, ip: IpAddr) -> bool {
        let n = self.open.entry(ip).or_insert(0);
        if self.max > 0 && *n >= self.max {
            return false;
        }
        *n += 1;
        true
    }

    fn release(&mut self, ip: IpAddr) {
        if let Some(n) = self.open.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.open.remove(&ip);
            }
        }
    }
}

/// A warning logged at most once per [`WARN_EVERY`].
#[derive(Debug, Default)]
struct RateLimited {
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimited {
    fn warn(&mut self, now: Instant, log: impl FnOnce(u64)) {
        if self.last.is_some_and(|t| now < t + WARN_EVERY) {
            self.suppressed += 1;
            return;
        }
        log(self.suppressed);
        self.last = Some(now);
        self.suppressed = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_capped_and_released() {
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let mut cap = Addresses::new(2);
        assert!(cap.admit(a) && cap.admit(a));
        assert!(!cap.admit(a), "third from the same address");
        assert!(cap.admit(b));
        cap.release(a);
        assert!(cap.admit(a));
        let mut unlimited = Addresses::new(0);
        assert!((0..1000).all(|_| unlimited.admit(a)));
    }

    #[test]
    fn warnings_are_rate_limited() {
        let mut w = RateLimited::default();
        let mut logged = Vec::new();
        let start = Instant::now();
        for i in 0..100 {
            w.warn(start + Duration::from_millis(10 * i), |s| logged.push(s));
        }
        assert_eq!(logged, vec![0], "one warning in a second");
        w.warn(start + WARN_EVERY + Duration::from_millis(1), |s| {
            logged.push(s)
        });
        assert_eq!(logged, vec![0, 99]);
    }
}
