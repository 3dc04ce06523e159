//! Configuration of one member machine.

use crate::failpoint::Failpoints;
use crate::server::ServerConfig;
use crate::zab::{MemberId, ZabConfig};

/// Everything a [`MemberMachine`](super::MemberMachine) needs to know.
///
/// A single-member configuration runs standalone (no election, zxids in epoch
/// 0, as a ZooKeeper started without a quorum configuration); two or more
/// members replicate with ZAB.
#[derive(Debug, Clone)]
pub struct MemberConfig {
    /// Server options (tick, session timeouts, ...). `server_id` is set from
    /// the member id.
    pub server: ServerConfig,
    /// Replication options; `zab.id` is this member, `zab.members` all of
    /// them. `zab.tick` should equal `server.tick_ms`.
    pub zab: ZabConfig,
    /// Committed transactions between two snapshots of the data tree and
    /// session table (0: never). ZooKeeper's `snapCount`.
    pub snapshot_every: u64,
    /// Failpoints armed when the member starts (none by default); see
    /// [`crate::failpoint`].
    pub failpoints: Failpoints,
    /// Read-only mode (ZooKeeper's `readonlymode.enabled`): how long a
    /// member looks for a leader before it serves read-only sessions; None
    /// (the default) keeps it down instead. See
    /// [`default_read_only_grace`](super::default_read_only_grace).
    pub read_only_grace: Option<std::time::Duration>,
    /// The text of `/zookeeper/config` (`server.N=...` lines and
    /// `version=`), which the ensemble builds from its members' addresses;
    /// None leaves the node empty, as a standalone ZooKeeper has it.
    pub ensemble_config: Option<String>,
}

impl MemberConfig {
    /// Member `id` of an ensemble of `members`, with `server` options; ZAB
    /// settings from [`ZabConfig::new`] with the server's tick.
    pub fn new(id: MemberId, members: Vec<MemberId>, mut server: ServerConfig) -> MemberConfig {
        server.server_id = u8::try_from(id).unwrap_or(u8::MAX);
        let mut zab = ZabConfig::new(id, members);
        zab.tick = std::time::Duration::from_millis(server.tick_ms.max(1));
        MemberConfig {
            server,
            zab,
            snapshot_every: 100_000,
            failpoints: Failpoints::default(),
            read_only_grace: None,
            ensemble_config: None,
        }
    }

    /// A standalone server (one member, id 1).
    pub fn standalone(server: ServerConfig) -> MemberConfig {
        MemberConfig::new(1, vec![1], server)
    }

    /// This member's id.
    pub fn id(&self) -> MemberId {
        self.zab.id
    }

    /// True when the ensemble has one member.
    pub fn is_standalone(&self) -> bool {
        self.zab.members.len() == 1 && self.zab.observers.is_empty()
    }
}
