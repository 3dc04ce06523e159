//! What the administrative four-letter words change: `srst` and `crst`
//! reset the server's and the connections' counters, `stmk` sets the trace
//! mask that `gtmk` reads.

use super::Server;
use crate::server::stats::{Counters, StatsDetail};

/// ZooKeeper's default trace mask (`gtmk` on a fresh server): client
/// requests, client ping requests and server packets.
pub(super) const DEFAULT_TRACE_MASK: i64 = 306;

impl Server {
    /// Carries out what `detail` asks beyond reading statistics: counter
    /// resets and a new trace mask.
    pub fn apply_admin(&mut self, detail: &StatsDetail) {
        if detail.reset_server {
            self.counters = Counters::default();
        }
        if detail.reset_connections {
            for c in self.conns.values_mut() {
                c.counters = Counters::default();
            }
        }
        if let Some(mask) = detail.set_trace_mask {
            self.trace_mask = mask;
        }
    }
}
