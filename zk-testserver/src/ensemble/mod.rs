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
mod runtime;
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
use slot::{Launch, Prepared, Slot};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{oneshot, watch, Mutex, OwnedMutexGuard};
use tokio::task::JoinHandle;
use zk_client::ensemble_config::EnsembleConfig;

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

/// Running ZooKeeper-compatible members. Dropping it shuts them down: once
/// the drop returns, their tasks, client ports and threads are gone (their
/// storage in memory with them; a data directory stays).
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
///
/// # Cancel safety
///
/// Every async method can be dropped (a `select!`, a timeout) without
/// leaving the ensemble half changed. An operation that starts or stops
/// members ([`kill`](Ensemble::kill), [`restart`](Ensemble::restart),
/// [`restart_wiped`](Ensemble::restart_wiped), [`stop`](Ensemble::stop),
/// [`restart_all`](Ensemble::restart_all)) either has not touched the
/// members yet when dropped, or runs to its end on the members' runtime;
/// the next operation on those members waits for that end. The other
/// methods send their command before their first wait, or only observe;
/// each method's section says what is lost.
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
    /// Locked by whatever starts, stops or commands a member; held by a
    /// task of the members' runtime while a start or stop finishes there.
    slots: Vec<Arc<Mutex<Slot>>>,
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
            slots: slots.into_iter().map(|s| Arc::new(Mutex::new(s))).collect(),
        }
    }

    /// What the member in `slot` (at `index`) needs to start: its
    /// configuration, with `current` if a reconfig installed one.
    fn launch_plan(
        &self,
        index: usize,
        slot: &Slot,
        current: Option<EnsembleConfig>,
    ) -> Result<Launch> {
        let mut config = self.config.member_config(slot.id, slot.starts());
        config.ensemble_config = self.config_node_text();
        let mut admin_ensemble = self.ensemble_config();
        if let Some(current) = current {
            self.reconfigured(&mut config, &mut admin_ensemble, current);
        }
        Ok(Launch {
            runtime: self.handle()?.clone(),
            config,
            admin_ensemble,
            network: self.network.clone(),
            publisher: self.publisher(index),
            port: self.config.client_port(),
        })
    }

    /// Starts member `index` for the first time (while the ensemble is being
    /// started, so nothing else holds its slot).
    fn launch_first(&self, index: usize, prepared: Prepared) -> Result<()> {
        let mut slot = self.slots[index]
            .try_lock()
            .map_err(|_| Error::Unsupported("starting a member twice"))?;
        let launch = self.launch_plan(index, &slot, None)?;
        slot.launch(launch, prepared)
    }

    fn publisher(&self, index: usize) -> Publisher {
        Publisher {
            tx: self.reports.clone(),
            index,
        }
    }

    /// Every member's slot, locked in order (so two callers cannot deadlock).
    async fn lock_all(&self) -> Vec<OwnedMutexGuard<Slot>> {
        let mut all = Vec::with_capacity(self.slots.len());
        for slot in &self.slots {
            all.push(slot.clone().lock_owned().await);
        }
        all
    }

    /// Runs `work` on the members' runtime to its end, even if the caller
    /// stops waiting for it: a start or stop of members, once under way, is
    /// never left half done (tasks aborted but the member still recorded as
    /// running, a port still bound, a report never withdrawn).
    fn run_to_end<T, F>(&self, work: F) -> Result<JoinHandle<Result<T>>>
    where
        T: Send + 'static,
        F: Future<Output = Result<T>> + Send + 'static,
    {
        Ok(self.handle()?.spawn(work))
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
    /// the reset, what it had not flushed is lost; its storage stays. Once
    /// this returns its client port is closed, its driver and storage thread
    /// have ended (its connections' tasks are cancelled and close as the
    /// members' runtime gets to them), and [`Ensemble::status`] reports it
    /// down.
    ///
    /// # Cancel safety
    ///
    /// Dropped while it waits for the member (another operation on it under
    /// way), nothing happened; dropped later, the kill completes on the
    /// members' runtime, and the next operation on the member waits for it.
    /// Either way the member is never left half killed.
    pub async fn kill(&self, member: MemberId) -> Result<()> {
        let i = self.index(member)?;
        let mut slot = self.slots[i].clone().lock_owned().await;
        let (network, publisher) = (self.network.clone(), self.publisher(i));
        let kill = self.run_to_end(async move {
            kill_slot(&mut slot, &network, &publisher).await;
            Ok(())
        })?;
        finished(kill).await
    }

    /// Starts `member` again on its port from its storage (killing it first
    /// if it runs). Returns once it runs, not necessarily serving: see
    /// [`Ensemble::wait_for_serving`].
    ///
    /// # Cancel safety
    ///
    /// As [`Ensemble::kill`]: dropped before it has the member, nothing
    /// happened (it may have asked the other members for the current
    /// configuration); dropped later, the restart completes on the members'
    /// runtime — the member runs again, or, if the start failed, stays
    /// down — and the next operation on it waits for that.
    pub async fn restart(&self, member: MemberId) -> Result<()> {
        self.restart_inner(member, false).await
    }

    /// Like [`Ensemble::restart`], with empty storage (a replaced disk): the
    /// member catches up from the leader by snapshot.
    ///
    /// # Cancel safety
    ///
    /// As [`Ensemble::restart`]; the storage is wiped only if the restart
    /// went ahead.
    pub async fn restart_wiped(&self, member: MemberId) -> Result<()> {
        self.restart_inner(member, true).await
    }

    async fn restart_inner(&self, member: MemberId, wipe: bool) -> Result<()> {
        let i = self.index(member)?;
        // Asked before this member's slot is locked (another restart may
        // hold another slot and ask this one).
        let current = self.latest_config(member).await;
        let mut slot = self.slots[i].clone().lock_owned().await;
        // A reconfig may have moved its client port: it starts there.
        let moved = current
            .as_ref()
            .and_then(|c| c.server(member)?.client.clone());
        let launch = self.launch_plan(i, &slot, current)?;
        let network = self.network.clone();
        let restart = self.run_to_end(async move {
            kill_slot(&mut slot, &network, &launch.publisher).await;
            if wipe {
                slot.wipe()?;
            }
            if let Some((_, port)) = moved {
                slot.addr.set_port(port);
            }
            let prepared = slot.prepare(&network)?;
            slot.launch(launch, prepared)
        })?;
        finished(restart).await
    }

    /// Whether `member` runs.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits for an operation on the member under way.
    pub async fn is_running(&self, member: MemberId) -> Result<bool> {
        Ok(self.slots[self.index(member)?].lock().await.is_running())
    }

    /// Kills every member (storage is kept); once this returns every client
    /// port is closed, as after [`Ensemble::kill`] of each.
    ///
    /// # Cancel safety
    ///
    /// All or nothing: dropped while it waits for members that other
    /// operations hold, no member was touched; dropped later, every member
    /// is killed on the members' runtime, and the next operation on any of
    /// them waits for that.
    pub async fn stop(&self) {
        let mut slots = self.lock_all().await;
        let network = self.network.clone();
        let publishers: Vec<Publisher> = (0..slots.len()).map(|i| self.publisher(i)).collect();
        let stop = self.run_to_end(async move {
            for (slot, publisher) in slots.iter_mut().zip(&publishers) {
                kill_slot(slot, &network, publisher).await;
            }
            Ok(())
        });
        // Without a runtime (never while `self` lives) nothing runs to stop.
        if let Ok(stop) = stop {
            let _ = finished(stop).await;
        }
    }

    /// Kills every member, starts them all again from their storage, and
    /// waits until every one serves.
    ///
    /// # Cancel safety
    ///
    /// The restart is all or nothing, as [`Ensemble::stop`]: dropped while
    /// it waits for members that other operations hold, nothing happened;
    /// dropped later, every member is restarted on the members' runtime. Only
    /// the final wait for every member to serve is lost (see
    /// [`Ensemble::wait_for_quorum`] and the other waits).
    pub async fn restart_all(&self) -> Result<()> {
        let mut slots = self.lock_all().await;
        let launches = slots
            .iter()
            .enumerate()
            .map(|(i, slot)| self.launch_plan(i, slot, None))
            .collect::<Result<Vec<_>>>()?;
        let network = self.network.clone();
        let restart = self.run_to_end(async move {
            for (slot, launch) in slots.iter_mut().zip(&launches) {
                kill_slot(slot, &network, &launch.publisher).await;
            }
            // Every port bound and every mailbox connected before any member
            // runs, as at the first start.
            let mut prepared = Vec::with_capacity(slots.len());
            for slot in &mut slots {
                prepared.push(slot.prepare(&network)?);
            }
            for ((slot, prepared), launch) in slots.iter_mut().zip(prepared).zip(launches) {
                slot.launch(launch, prepared)?;
            }
            Ok(())
        })?;
        finished(restart).await?;
        self.wait_all_serving().await
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
    ///
    /// # Cancel safety
    ///
    /// Dropped while it waits for the member (another operation on it under
    /// way), nothing is armed. Dropped later, the failpoint is armed all the
    /// same (on the running member, or at its next start); only the wait
    /// for the running member to confirm is lost.
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
    ///
    /// # Cancel safety
    ///
    /// As [`Ensemble::set_failpoint`]: dropped before it has the member,
    /// nothing changes; dropped later, the point is disarmed all the same
    /// and only the wait for the running member to confirm is lost.
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
    ///
    /// # Cancel safety
    ///
    /// Dropped before the command reached the member (while it waits for
    /// another operation on the member), nothing happens; dropped later, the
    /// connections are closed all the same, and only the wait for the
    /// member to confirm is lost.
    pub async fn drop_client_connections(&self, member: MemberId) -> Result<()> {
        self.ask(member, Command::DropConnections).await
    }

    /// Closes every client connection of every running member.
    ///
    /// # Cancel safety
    ///
    /// Members are done one after the other (as
    /// [`Ensemble::drop_client_connections`]): dropped half way, the members
    /// before the one it was at have closed their connections, that one
    /// may, and the later ones keep theirs.
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
    ///
    /// # Cancel safety
    ///
    /// As [`Ensemble::drop_client_connections`]: once the command reached
    /// the leader the session expires all the same; only the wait for the
    /// leader to confirm is lost.
    pub async fn expire_session(&self, session_id: i64) -> Result<()> {
        let leader = self.leader().ok_or(Error::NoLeader)?;
        self.ask(leader, |tx| Command::ExpireSession(session_id, tx))
            .await?;
        Ok(())
    }

    /// Sessions in the leader's applied session table.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
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
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    pub async fn last_zxid(&self, member: MemberId) -> Result<i64> {
        Ok(self.inspect(member).await?.last_zxid)
    }

    /// `member`'s zxid, digest, session table and ephemerals: what the
    /// history checkers compare across members (`check::members`, feature
    /// `verification`).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    pub async fn view(&self, member: MemberId) -> Result<crate::MemberView> {
        self.ask(member, Command::View).await
    }

    /// Digest of `member`'s data tree (equal on members that applied the
    /// same transactions).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    pub async fn digest(&self, member: MemberId) -> Result<u64> {
        Ok(self.inspect(member).await?.digest)
    }
}

/// Kills the member in `slot` and withdraws its report.
async fn kill_slot(slot: &mut Slot, network: &Network, publisher: &Publisher) {
    slot.kill(network).await;
    publisher.publish(None);
}

/// The result of work given to [`Ensemble::run_to_end`].
async fn finished<T>(work: JoinHandle<Result<T>>) -> Result<T> {
    match work.await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Cancelled: the runtime shut down, which only the drop of the
        // ensemble does.
        Err(_) => Err(Error::Unsupported("ensemble already shut down")),
    }
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        // Cancel the members' tasks (with their listeners and connections),
        // then wait until the runtime has dropped them and its threads have
        // ended: the ports are free once this returns. A slot held by a
        // start or stop under way goes with its task.
        for slot in &self.slots {
            if let Ok(mut slot) = slot.try_lock() {
                slot.abort();
            }
        }
        if let Some(runtime) = self.runtime.take() {
            runtime::shut_down(runtime);
        }
    }
}
