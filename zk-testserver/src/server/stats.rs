//! Counters the four-letter words report.

/// Request latency and packet counters of the server or one connection.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    /// Packets received.
    pub received: u64,
    /// Packets sent.
    pub sent: u64,
    /// Smallest request latency, ms.
    pub min_latency: u64,
    /// Largest request latency, ms.
    pub max_latency: u64,
    /// Sum of latencies, ms.
    pub total_latency: u64,
    /// Requests measured.
    pub count: u64,
}

impl Counters {
    /// Records one answered request.
    pub fn record(&mut self, latency_ms: u64) {
        if self.count == 0 || latency_ms < self.min_latency {
            self.min_latency = latency_ms;
        }
        self.max_latency = self.max_latency.max(latency_ms);
        self.total_latency += latency_ms;
        self.count += 1;
    }

    /// Average latency, ms.
    pub fn avg_latency(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.total_latency as f64 / self.count as f64
        }
    }
}

/// One client connection as `cons` shows it.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// Peer address (`ip:port`).
    pub peer: String,
    /// Its session (0 before the handshake).
    pub session_id: i64,
    /// Negotiated timeout, ms.
    pub timeout_ms: i32,
    /// Requests queued or in flight.
    pub queued: usize,
    /// Counters.
    pub counters: Counters,
    /// Last xid answered.
    pub last_cxid: i32,
    /// Last zxid sent.
    pub last_zxid: i64,
    /// Name of the last operation.
    pub last_op: &'static str,
}

/// Which parts of [`ServerStats`] that cost a walk over every node, watch
/// or ephemeral to gather; the parts left out stay empty (or zero).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsDetail {
    /// [`ServerStats::data_size`] (walks every node).
    pub data_size: bool,
    /// [`ServerStats::ephemerals`] (every ephemeral path, by session).
    pub ephemerals: bool,
    /// [`ServerStats::watches_by_session`] (data-manager paths by session, as ZooKeeper's wchc).
    pub watches: bool,
    /// [`ServerStats::digest`] (hashes every node).
    pub digest: bool,
    /// Reset the server's counters first (`srst`).
    pub reset_server: bool,
    /// Reset every connection's counters first (`crst`).
    pub reset_connections: bool,
    /// Set the trace mask first (`stmk`).
    pub set_trace_mask: Option<i64>,
}

/// Everything the four-letter words print, taken in one go.
#[derive(Debug, Clone)]
pub struct ServerStats {
    /// Server-wide counters.
    pub counters: Counters,
    /// Open client connections.
    pub connections: Vec<ConnectionInfo>,
    /// Requests queued or in flight over all connections.
    pub outstanding: usize,
    /// Last applied zxid.
    pub zxid: i64,
    /// Number of znodes.
    pub node_count: usize,
    /// Number of watch registrations.
    pub watch_count: usize,
    /// Paths watched by each session (for wchc).
    pub watches_by_session: Vec<(i64, Vec<String>)>,
    /// Number of ephemeral nodes.
    pub ephemerals_count: usize,
    /// Ephemerals by session (for dump).
    pub ephemerals: Vec<(i64, Vec<String>)>,
    /// Sessions with their timeouts.
    pub sessions: Vec<(i64, i32)>,
    /// Expiry buckets: monotonic deadline (ms) and the sessions due then.
    pub buckets: Vec<(u64, Vec<i64>)>,
    /// Approximate data size in bytes (paths and data).
    pub data_size: usize,
    /// Tick, ms.
    pub tick_ms: u64,
    /// Session timeout bounds, ms.
    pub min_session_timeout_ms: i32,
    /// Session timeout bounds, ms.
    pub max_session_timeout_ms: i32,
    /// Server id.
    pub server_id: u8,
    /// Sizes of the transactions proposed since this server started preparing
    /// writes (None before the first).
    pub proposal_sizes: Option<crate::server::machine::ProposalSizes>,
    /// Sync barriers waiting for the leader.
    pub pending_syncs: usize,
    /// Whether the server serves clients.
    pub serving: bool,
    /// Last applied zxid and the tree's digest there, when asked for (`hash`).
    pub digest: Option<(i64, u64)>,
    /// The trace mask (`gtmk`, `stmk`; ZooKeeper's default 306).
    pub trace_mask: i64,
    /// Bytes of snapshots and log, filled in by the driver (`dirs`).
    pub storage: crate::storage::StorageUsage,
    /// Whether it serves read-only sessions only (cut off from its quorum,
    /// read-only mode enabled): `isro` answers `ro`, srvr's mode `read-only`.
    pub read_only: bool,
    /// The member's place in a replicated ensemble; None when standalone.
    pub replica: Option<ReplicaStats>,
}

/// The role of a member of a replicated ensemble (for srvr/mntr).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaRole {
    /// Electing a leader, or syncing with one: not serving.
    Looking,
    /// Following the leader.
    Follower,
    /// Following the leader without a vote (an observer).
    Observer,
    /// Leading.
    Leader,
}

/// Replication figures of one member of a replicated ensemble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaStats {
    /// The member's role.
    pub role: ReplicaRole,
    /// Number of voting members (ZooKeeper's `zk_quorum_size`).
    pub quorum_size: usize,
    /// Leader: followers connected (`zk_learners`).
    pub learners: usize,
    /// Leader: voting followers synced (`zk_synced_followers`).
    pub synced_followers: usize,
    /// Leader: observers synced (`zk_synced_observers`).
    pub synced_observers: usize,
    /// Leader: ms since it was established (`zk_leader_uptime`).
    pub leader_uptime_ms: u64,
    /// The leader it follows (itself when leading).
    pub leader: Option<u64>,
}
