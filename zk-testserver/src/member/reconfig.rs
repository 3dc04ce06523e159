//! Inside the member machine: membership changes. A reconfig the server
//! prepared is proposed as a reconfiguration (so the leader counts acks
//! against both voter sets until it commits); a reconfig applied switches
//! replication to the configuration it installs.

use super::MemberMachine;
use crate::server::reconfig::{observers, voters};
use crate::storage::LogEntry;
use crate::zab::MemberId;
use std::time::Instant;
use zk_client::ensemble_config::EnsembleConfig;

/// The client port `text` (a `/zookeeper/config`) gives member `id`, if it
/// names one.
pub(super) fn client_port_in(text: Option<&str>, id: MemberId) -> Option<u16> {
    let config = EnsembleConfig::parse(text?).ok()?;
    config.server(id)?.client.as_ref().map(|(_, port)| *port)
}

/// The spares: non-voting learners `observers` (this member's replication
/// observers) that the published configuration `text` does not list.
pub(super) fn spares_of(observers: &[MemberId], text: Option<&str>) -> Vec<MemberId> {
    let listed = text
        .and_then(|t| EnsembleConfig::parse(t).ok())
        .map(|c| c.servers.iter().map(|s| s.id).collect::<Vec<_>>())
        .unwrap_or_default();
    observers
        .iter()
        .copied()
        .filter(|id| !listed.contains(id))
        .collect()
}

impl MemberMachine {
    /// Proposes `entry`, a reconfig installing the configuration `text`.
    pub(super) fn propose_reconfig(&mut self, now: Instant, entry: LogEntry, text: &str) -> bool {
        let Ok(next) = EnsembleConfig::parse(text) else {
            tracing::error!(text, "prepared configuration does not parse");
            return false;
        };
        let (members, observers) = self.replication_sets(&next);
        self.repl.propose_reconfig(now, entry, members, observers)
    }

    /// A reconfig was applied: replication switches to its configuration.
    pub(super) fn adopt_config(&mut self, now: Instant, text: &str) {
        let Ok(next) = EnsembleConfig::parse(text) else {
            tracing::error!(text, "applied configuration does not parse");
            return;
        };
        let (members, observers) = self.replication_sets(&next);
        self.voters = members.len();
        self.observer = observers.contains(&self.id);
        self.members = members.len() + observers.len();
        if let Some(port) = client_port_in(Some(text), self.id) {
            self.client_port = Some(port);
        }
        tracing::info!(id = self.id, ?members, ?observers, "configuration adopted");
        self.repl.adopt_config(now, members, observers);
    }

    /// Voters and non-voting learners of `next`: its participants, and its
    /// observers plus the spares it does not name.
    fn replication_sets(&self, next: &EnsembleConfig) -> (Vec<MemberId>, Vec<MemberId>) {
        let members = voters(next);
        let mut learners = observers(next);
        learners.extend(
            self.spares
                .iter()
                .copied()
                .filter(|id| next.server(*id).is_none()),
        );
        learners.sort_unstable();
        (members, learners)
    }

    /// Tells the server which members are synced (a leader's reconfig
    /// needs a quorum of the next voters among them).
    pub(super) fn report_synced(&mut self) {
        let synced = self.repl.synced_members();
        self.server.set_synced_members(synced);
    }
}
