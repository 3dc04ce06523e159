//! [`Ensemble`]: ZooKeeper-compatible members inside a test (or the binary),
//! with faults on demand and event-driven waits.
//!
//! Members are numbered 1 to n, as ZooKeeper's `myid`. Each has a real TCP
//! client port on 127.0.0.1; members talk to each other over an in-process
//! network that the test can partition, cut one way,
//! delay or make lossy. Each member keeps its log and snapshots in memory
//! (surviving kill and restart within the `Ensemble`) or in a data directory.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> zk_testserver::ensemble::Result<()> {
//! use std::time::Duration;
//! use zk_testserver::Ensemble;
//!
//! let zk = Ensemble::builder()
//!     .members(3)
//!     .tick(Duration::from_millis(50))
//!     .start()
//!     .await?;
//! let leader = zk.wait_for_leader().await?;
//! zk.kill(leader).await?;
//! let next = zk.wait_for_leader().await?;
//! assert_ne!(next, leader);
//! zk.restart(leader).await?;
//! let digest = zk.wait_until_converged().await?;
//! # let _ = digest;
//! # Ok(()) }
//! ```

mod builder;
mod client_addr;
mod membership;
mod secret;
mod slot;
mod wait;

pub use builder::EnsembleBuilder;

pub use crate::member::SyncCounts;

use crate::failpoint::{Action, Failpoint};
use crate::net::core::{Command, Inspection, Publisher, Report};
use crate::net::links::Network;
use crate::zab::{MemberId, Role};
use client_addr::ClientAddr;
use slot::{Prepared, Slot};
use std::net::SocketAddr;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{oneshot, watch, Mutex};

/// Errors of the ensemble API.
#[derive(Debug, Error)]
pub enum Error {
    /// Binding a client port or using a data directory failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The member is not running.
    #[error("member {0} is not running")]
    Stopped(MemberId),
    /// There is no member with this id.
    #[error("no member {0}")]
    NoSuchMember(MemberId),
    /// No member leads (the operation needs the leader).
    #[error("no leader")]
    NoLeader,
    /// A member could not be built from its storage.
    #[error("a member could not be built from its storage")]
    Member(#[from] crate::member::MemberError),
    /// A wait did not finish within the ensemble's wait timeout.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// Members applied the same zxid but hold different data.
    #[error("members diverged at zxid {zxid:#x}: digests {digests:?}")]
    Diverged {
        /// The zxid every member applied.
        zxid: i64,
        /// Each running member's digest.
        digests: Vec<(MemberId, u64)>,
    },
    /// The TLS settings cannot be used.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsSetupError),
    /// The requested configuration is not supported.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
}

/// Result of the ensemble API.
pub type Result<T> = std::result::Result<T, Error>;

/// A session as the ensemble reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionInfo {
    /// Session id.
    pub id: i64,
    /// Negotiated timeout.
    pub timeout: Duration,
}

/// One member as last reported (reports follow every batch of its work).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberStatus {
    /// The member.
    pub id: MemberId,
    /// Whether its process runs.
    pub running: bool,
    /// Looking, following or leading.
    pub role: Role,
    /// The leader it follows (itself when leading).
    pub leader: Option<MemberId>,
    /// Its current epoch.
    pub epoch: u32,
    /// Whether it serves clients.
    pub serving: bool,
    /// Zxid of the last transaction applied.
    pub last_zxid: i64,
    /// Zxid of the last transaction logged.
    pub last_logged_zxid: i64,
    /// Zxid of the last transaction known committed.
    pub last_committed_zxid: i64,
    /// How it was synced with a leader since it last started (DIFF, TRUNC,
    /// SNAP).
    pub syncs: SyncCounts,
    /// Failpoints that fired since it last started.
    pub failpoint_hits: u32,
    /// Whether it serves read-only sessions: cut off from its quorum with
    /// [`EnsembleBuilder::read_only_mode`] on (`serving` is false then).
    pub read_only: bool,
}

/// Running ZooKeeper-compatible members. Dropping it shuts them down.
///
/// # API
///
/// - **Addresses**: [`Ensemble::connect_string`], [`Ensemble::addresses`],
///   [`Ensemble::addr`], [`Ensemble::members`].
/// - **Processes**: [`Ensemble::kill`], [`Ensemble::restart`] (keeping its
///   storage), [`Ensemble::restart_wiped`], [`Ensemble::stop`] and
///   [`Ensemble::restart_all`] (every member).
/// - **Network** (member ids, links one way unless said otherwise):
///   [`Ensemble::partition`], [`Ensemble::cut`], [`Ensemble::delay`],
///   [`Ensemble::drop_rate`], [`Ensemble::heal`].
/// - **Failpoints**: [`Ensemble::set_failpoint`],
///   [`Ensemble::clear_failpoint`].
/// - **Clients and sessions**: [`Ensemble::drop_client_connections`],
///   [`Ensemble::drop_all_client_connections`], [`Ensemble::expire_session`],
///   [`Ensemble::sessions`].
/// - **Observation**: [`Ensemble::leader`], [`Ensemble::status`],
///   [`Ensemble::last_zxid`], [`Ensemble::digest`], [`Ensemble::view`].
/// - **Event-driven waits** (bounded by
///   [`EnsembleBuilder::wait_timeout`]): [`Ensemble::wait_for_leader`],
///   [`Ensemble::wait_for_quorum`], [`Ensemble::wait_for_serving`],
///   [`Ensemble::wait_until_converged`], [`Ensemble::wait_for_status`].
///
/// Every method takes `&self`, so a test can share the ensemble.
pub struct Ensemble {
    /// The members' own runtime: a busy or blocked test body cannot starve
    /// them (as a separate ZooKeeper process would not be).
    runtime: Option<tokio::runtime::Runtime>,
    config: EnsembleBuilder,
    network: Network,
    reports: watch::Sender<Vec<Option<Report>>>,
    /// Each member's client address (shared with its slot: a reconfig may
    /// move the port).
    addrs: Vec<ClientAddr>,
    secure_addrs: Vec<SocketAddr>,
    admin_addrs: Vec<Option<SocketAddr>>,
    slots: Vec<Mutex<Slot>>,
}

impl std::fmt::Debug for Ensemble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ensemble")
            .field("addrs", &self.addresses())
            .finish_non_exhaustive()
    }
}

impl Ensemble {
    /// A builder with defaults: one member, 100 ms tick, any free port,
    /// in-memory storage.
    pub fn builder() -> EnsembleBuilder {
        EnsembleBuilder::default()
    }

    fn assemble(
        runtime: tokio::runtime::Runtime,
        config: EnsembleBuilder,
        network: Network,
        reports: watch::Sender<Vec<Option<Report>>>,
        slots: Vec<Slot>,
    ) -> Ensemble {
        Ensemble {
            runtime: Some(runtime),
            config,
            network,
            reports,
            addrs: slots.iter().map(|s| s.addr.clone()).collect(),
            secure_addrs: slots.iter().filter_map(|s| s.secure_addr()).collect(),
            admin_addrs: slots.iter().map(|s| s.admin_addr).collect(),
            slots: slots.into_iter().map(Mutex::new).collect(),
        }
    }

    async fn launch(&self, index: usize, prepared: Prepared) -> Result<()> {
        let mut slot = self.slots[index].lock().await;
        let mut config = self.config.member_config(slot.id, slot.starts());
        config.ensemble_config = self.config_node_text();
        slot.admin_ensemble = self.ensemble_config();
        let publisher = Publisher {
            tx: self.reports.clone(),
            index,
        };
        slot.launch(
            self.handle()?,
            prepared,
            config,
            self.network.clone(),
            publisher,
            self.config.client_port(),
        )
    }

    fn handle(&self) -> Result<&tokio::runtime::Handle> {
        self.runtime
            .as_ref()
            .map(|r| r.handle())
            .ok_or(Error::Unsupported("ensemble already shut down"))
    }

    fn index(&self, member: MemberId) -> Result<usize> {
        let i = usize::try_from(member)
            .ok()
            .and_then(|m| m.checked_sub(1))
            .filter(|&i| i < self.slots.len());
        i.ok_or(Error::NoSuchMember(member))
    }

    // ----- addresses -----

    /// `host:port,host:port,...` of every member, member 1 first.
    pub fn connect_string(&self) -> String {
        self.addrs
            .iter()
            .map(|a| membership::reachable(a.get()).to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `host:port,...` of every member's secure (TLS) client port, member 1
    /// first; `None` unless the ensemble was built with
    /// [`EnsembleBuilder::tls`].
    pub fn secure_connect_string(&self) -> Option<String> {
        (!self.secure_addrs.is_empty()).then(|| {
            self.secure_addrs
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
    }

    /// Secure (TLS) client address of every member, member 1 first (empty
    /// without TLS).
    pub fn secure_addresses(&self) -> Vec<SocketAddr> {
        self.secure_addrs.clone()
    }

    /// Client address of every member, member 1 first.
    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.addrs.iter().map(ClientAddr::get).collect()
    }

    /// Client address of `member`: where it listens now (a reconfig that
    /// gives it another client port moves it, as ZooKeeper's server
    /// rebinds).
    pub fn addr(&self, member: MemberId) -> Result<SocketAddr> {
        Ok(self.addrs[self.index(member)?].get())
    }

    /// The member ids, 1 to n (voters, then observers).
    pub fn members(&self) -> Vec<MemberId> {
        (1..=self.slots.len() as u64).collect()
    }

    /// The member whose client port is `addr`, if any.
    pub fn member_at(&self, addr: SocketAddr) -> Option<MemberId> {
        self.addrs
            .iter()
            .position(|a| a.get() == addr)
            .map(|i| i as u64 + 1)
    }

    // ----- processes -----

    /// Kills `member` as a crash would: its connections drop, its peers see
    /// the reset, what it had not flushed is lost; its storage stays.
    pub async fn kill(&self, member: MemberId) -> Result<()> {
        let i = self.index(member)?;
        self.slots[i].lock().await.kill(&self.network).await;
        self.publish_down(i);
        Ok(())
    }

    /// Starts `member` again on its port from its storage (killing it first
    /// if it runs). Returns once it runs, not necessarily serving: see
    /// [`Ensemble::wait_for_serving`].
    pub async fn restart(&self, member: MemberId) -> Result<()> {
        self.restart_inner(member, false).await
    }

    /// Like [`Ensemble::restart`], with empty storage (a replaced disk): the
    /// member catches up from the leader by snapshot.
    pub async fn restart_wiped(&self, member: MemberId) -> Result<()> {
        self.restart_inner(member, true).await
    }

    async fn restart_inner(&self, member: MemberId, wipe: bool) -> Result<()> {
        let i = self.index(member)?;
        // Asked before this member's slot is locked (another restart may
        // hold another slot and ask this one).
        let current = self.latest_config(member).await;
        let mut slot = self.slots[i].lock().await;
        slot.kill(&self.network).await;
        self.publish_down(i);
        if wipe {
            slot.wipe()?;
        }
        // A reconfig may have moved its client port: it starts there.
        let moved = current
            .as_ref()
            .and_then(|c| c.server(member)?.client.clone());
        if let Some((_, port)) = moved {
            slot.addr.set_port(port);
        }
        let prepared = slot.prepare(&self.network).await?;
        let mut config = self.config.member_config(slot.id, slot.starts());
        config.ensemble_config = self.config_node_text();
        slot.admin_ensemble = self.ensemble_config();
        if let Some(current) = current {
            self.reconfigured(&mut config, &mut slot.admin_ensemble, current);
        }
        let publisher = Publisher {
            tx: self.reports.clone(),
            index: i,
        };
        slot.launch(
            self.handle()?,
            prepared,
            config,
            self.network.clone(),
            publisher,
            self.config.client_port(),
        )
    }

    /// Whether `member` runs.
    pub async fn is_running(&self, member: MemberId) -> Result<bool> {
        Ok(self.slots[self.index(member)?].lock().await.is_running())
    }

    /// Kills every member (storage is kept).
    pub async fn stop(&self) {
        for (i, slot) in self.slots.iter().enumerate() {
            slot.lock().await.kill(&self.network).await;
            self.publish_down(i);
        }
    }

    /// Kills every member, starts them all again from their storage, and
    /// waits until every one serves.
    pub async fn restart_all(&self) -> Result<()> {
        self.stop().await;
        let mut prepared = Vec::with_capacity(self.slots.len());
        for slot in &self.slots {
            prepared.push(slot.lock().await.prepare(&self.network).await?);
        }
        for (i, p) in prepared.into_iter().enumerate() {
            self.launch(i, p).await?;
        }
        self.wait_all_serving().await
    }

    fn publish_down(&self, index: usize) {
        Publisher {
            tx: self.reports.clone(),
            index,
        }
        .publish(None);
    }

    // ----- network -----

    /// Splits the members into groups: links between groups are cut both
    /// ways; a member in no group is cut off from all.
    pub fn partition(&self, groups: &[&[MemberId]]) {
        self.network.partition(groups);
    }

    /// Cuts the link from `from` to `to` only.
    pub fn cut(&self, from: MemberId, to: MemberId) {
        self.network.cut(from, to);
    }

    /// Holds every message from `from` to `to` for `delay`.
    pub fn delay(&self, from: MemberId, to: MemberId, delay: Duration) {
        self.network.delay(from, to, delay);
    }

    /// Drops each message from `from` to `to` with probability `p` (drawn
    /// from the ensemble's seed).
    pub fn drop_rate(&self, from: MemberId, to: MemberId, p: f64) {
        self.network.drop_rate(from, to, p);
    }

    /// Restores every link (no cuts, delays or drops).
    pub fn heal(&self) {
        self.network.heal();
    }

    // ----- failpoints -----

    /// Arms `point` on `member` with `action` (see [`crate::failpoint`]); it
    /// fires once. A running member is armed before this returns (so whatever
    /// the caller does next meets the armed failpoint; a paused member delays
    /// the return until its pause ends); a stopped one when it next starts.
    /// [`MemberStatus::failpoint_hits`] counts what fired; a member crashed
    /// by a failpoint reports as not running until [`Ensemble::restart`]
    /// (which loses what it had not flushed).
    pub async fn set_failpoint(
        &self,
        member: MemberId,
        point: Failpoint,
        action: Action,
    ) -> Result<()> {
        let armed = {
            let mut slot = self.slots[self.index(member)?].lock().await;
            match slot.commands() {
                Ok(tx) => {
                    let (reply, armed) = oneshot::channel();
                    tx.send(Command::Failpoint(point, Some(action), reply))
                        .map_err(|_| Error::Stopped(member))?;
                    armed
                }
                Err(_) => {
                    slot.armed_on_start.arm(point, action);
                    return Ok(());
                }
            }
        };
        armed.await.map_err(|_| Error::Stopped(member))
    }

    /// Disarms `point` on `member` (running or at its next start); a running
    /// member is disarmed before this returns.
    pub async fn clear_failpoint(&self, member: MemberId, point: Failpoint) -> Result<()> {
        let disarmed = {
            let mut slot = self.slots[self.index(member)?].lock().await;
            slot.armed_on_start.disarm(point);
            let Ok(tx) = slot.commands() else {
                return Ok(());
            };
            let (reply, disarmed) = oneshot::channel();
            if tx.send(Command::Failpoint(point, None, reply)).is_err() {
                return Ok(());
            }
            disarmed
        };
        // A member that stopped meanwhile starts with the point disarmed.
        let _ = disarmed.await;
        Ok(())
    }

    // ----- clients and sessions -----

    async fn ask<T>(
        &self,
        member: MemberId,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T> {
        let tx = self.slots[self.index(member)?].lock().await.commands()?;
        let (reply, rx) = oneshot::channel();
        tx.send(make(reply)).map_err(|_| Error::Stopped(member))?;
        rx.await.map_err(|_| Error::Stopped(member))
    }

    async fn inspect(&self, member: MemberId) -> Result<Inspection> {
        self.ask(member, Command::Inspect).await
    }

    /// Closes every client connection of `member`; sessions stay alive and
    /// clients reconnect.
    pub async fn drop_client_connections(&self, member: MemberId) -> Result<()> {
        self.ask(member, Command::DropConnections).await
    }

    /// Closes every client connection of every running member.
    pub async fn drop_all_client_connections(&self) -> Result<()> {
        for m in self.members() {
            match self.drop_client_connections(m).await {
                Ok(()) | Err(Error::Stopped(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Expires a session at the leader as if its timeout had passed: its
    /// ephemerals go on every member, its connection is closed, reattach
    /// attempts get the expired reply. Unknown sessions are ignored.
    pub async fn expire_session(&self, session_id: i64) -> Result<()> {
        let leader = self.leader().ok_or(Error::NoLeader)?;
        self.ask(leader, |tx| Command::ExpireSession(session_id, tx))
            .await?;
        Ok(())
    }

    /// Sessions in the leader's applied session table.
    pub async fn sessions(&self) -> Result<Vec<SessionInfo>> {
        let leader = self.leader().ok_or(Error::NoLeader)?;
        Ok(self
            .inspect(leader)
            .await?
            .sessions
            .into_iter()
            .map(|(id, t)| SessionInfo {
                id,
                timeout: Duration::from_millis(u64::try_from(t).unwrap_or(0)),
            })
            .collect())
    }

    // ----- observation -----

    /// Zxid of the last transaction `member` applied.
    pub async fn last_zxid(&self, member: MemberId) -> Result<i64> {
        Ok(self.inspect(member).await?.last_zxid)
    }

    /// `member`'s zxid, digest, session table and ephemerals: what the
    /// history checkers compare across members (`check::members`, feature
    /// `verification`).
    pub async fn view(&self, member: MemberId) -> Result<crate::MemberView> {
        self.ask(member, Command::View).await
    }

    /// Digest of `member`'s data tree (equal on members that applied the
    /// same transactions).
    pub async fn digest(&self, member: MemberId) -> Result<u64> {
        Ok(self.inspect(member).await?.digest)
    }
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        // Stop the members first (their tasks, listeners and connections),
        // then let the runtime go without blocking the caller, which may be
        // an async context.
        for slot in &self.slots {
            if let Ok(mut slot) = slot.try_lock() {
                slot.abort();
            }
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
