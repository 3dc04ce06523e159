//! The ensemble's configuration as clients see it in `/zookeeper/config`.

use super::Ensemble;
use std::net::SocketAddr;
use zk_client::ensemble_config::{EnsembleConfig, ServerRole, ServerSpec};

/// Where a client reaches a member bound to `addr`: a wildcard bind
/// (`0.0.0.0`, `::`) is reached on loopback.
pub(super) fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => {
            SocketAddr::from(([127, 0, 0, 1], addr.port()))
        }
        ip if ip.is_unspecified() => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, addr.port())),
        _ => addr,
    }
}

impl Ensemble {
    /// The configuration every member publishes in `/zookeeper/config`
    /// (empty for a standalone server, as ZooKeeper's): one line per member
    /// (participant, or observer) with its client address, and the version
    /// real ZooKeeper (3.8 and 3.9) gives a fresh ensemble: `version=0`
    /// without `reconfigEnabled`; with it, the zxid its first leader started
    /// from, `version=100000000` (also the node's mzxid). Members talk over
    /// an in-process network, so their quorum and election ports are given
    /// as 0.
    pub fn ensemble_config(&self) -> EnsembleConfig {
        if self.addrs.len() < 2 {
            return EnsembleConfig::default();
        }
        let servers = self
            .addrs
            .iter()
            .take(self.config.members + self.config.observers)
            .enumerate()
            .map(|(i, addr)| (i, reachable(addr.get())))
            .map(|(i, addr)| ServerSpec {
                id: i as u64 + 1,
                host: addr.ip().to_string(),
                quorum_port: 0,
                election_port: 0,
                role: if i < self.config.members {
                    ServerRole::Participant
                } else {
                    ServerRole::Observer
                },
                client: Some((addr.ip().to_string(), addr.port())),
            })
            .collect();
        let version = if self.config.reconfig_enabled {
            crate::zab::make_zxid(1, 0)
        } else {
            0
        };
        EnsembleConfig { servers, version }
    }

    /// Where `member`'s AdminServer-compatible endpoint listens (see
    /// [`EnsembleBuilder::admin_port`](super::EnsembleBuilder::admin_port));
    /// None when not enabled or no such member.
    pub fn admin_addr(&self, member: u64) -> Option<SocketAddr> {
        let i = usize::try_from(member).ok()?.checked_sub(1)?;
        self.admin_addrs.get(i).copied().flatten()
    }

    /// The voting members' ids (1 to the number of voters).
    pub fn voters(&self) -> Vec<u64> {
        (1..=self.config.members as u64).collect()
    }

    /// The observers' ids (after the voters'; see
    /// [`EnsembleBuilder::observers`](super::EnsembleBuilder::observers)).
    pub fn observers(&self) -> Vec<u64> {
        let last = self.config.members + self.config.observers;
        (self.config.members as u64 + 1..=last as u64).collect()
    }

    /// The spares' ids (after the observers'; see
    /// [`EnsembleBuilder::spares`](super::EnsembleBuilder::spares)).
    pub fn spares(&self) -> Vec<u64> {
        let first = self.config.members + self.config.observers + 1;
        (first as u64..=self.addrs.len() as u64).collect()
    }

    /// Member `id`'s `server.N=host:0:0:participant;host:port` line, as a
    /// reconfig adds it (quorum and election ports are 0: members talk over
    /// an in-process network); None if there is no such member.
    pub fn server_line(&self, id: u64) -> Option<String> {
        let i = usize::try_from(id).ok()?.checked_sub(1)?;
        let addr = reachable(self.addrs.get(i)?.get());
        let spec = ServerSpec {
            id,
            host: addr.ip().to_string(),
            quorum_port: 0,
            election_port: 0,
            role: ServerRole::Participant,
            client: Some((addr.ip().to_string(), addr.port())),
        };
        Some(spec.to_string())
    }

    /// The text of `/zookeeper/config` members are started with.
    pub(super) fn config_node_text(&self) -> Option<String> {
        (self.addrs.len() > 1).then(|| self.ensemble_config().to_string())
    }

    /// The newest configuration a reconfig installed that any running
    /// member but `except` holds (what a ZooKeeper server would find in its
    /// dynamic config file, or learn from the leader); None if there was no
    /// reconfig.
    pub(super) async fn latest_config(&self, except: u64) -> Option<EnsembleConfig> {
        let mut latest: Option<EnsembleConfig> = None;
        for m in self.members().into_iter().filter(|&m| m != except) {
            let Ok(found) = self.inspect(m).await else {
                continue;
            };
            let Some(config) = found.config.and_then(|t| EnsembleConfig::parse(&t).ok()) else {
                continue;
            };
            if config.version > latest.as_ref().map_or(0, |l| l.version) {
                latest = Some(config);
            }
        }
        latest
    }

    /// Starts a member with the configuration `current` a reconfig
    /// installed, if it is in it (a removed member keeps the initial one,
    /// which no member answers any more).
    pub(super) fn reconfigured(
        &self,
        config: &mut crate::member::MemberConfig,
        admin: &mut EnsembleConfig,
        current: EnsembleConfig,
    ) {
        let id = config.id();
        let spares = self.spares();
        if current.server(id).is_none() && !spares.contains(&id) {
            return;
        }
        let voters = crate::server::reconfig::voters(&current);
        let mut observers = crate::server::reconfig::observers(&current);
        observers.extend(spares.into_iter().filter(|s| current.server(*s).is_none()));
        config.zab.members = voters;
        config.zab.observers = observers;
        config.ensemble_config = Some(current.to_string());
        *admin = current;
    }
}
