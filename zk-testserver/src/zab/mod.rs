//! ZAB replication for one ensemble member, as a pure state machine.
//!
//! [`Member`] reproduces ZooKeeper's atomic broadcast: fast leader election,
//! discovery (a new epoch), sync (DIFF / TRUNC / SNAP), and broadcast
//! (proposal → quorum ack → commit). It performs no I/O and reads no clock:
//! time enters as a `now` argument, randomness comes from [`ZabConfig::seed`],
//! and every effect is an [`Output`] the driver carries out. The same member
//! therefore runs under a tokio driver and under a deterministic simulator.
//!
//! # Differences from ZooKeeper's wire protocol
//!
//! Member links may drop messages without resetting (ZooKeeper relies on TCP
//! resets), so a few messages carry more than ZooKeeper's do:
//! [`ZabMessage::Proposal`] names the previous zxid, [`ZabMessage::NewLeader`]
//! the last zxid of the sync, [`ZabMessage::Ping`] the leader's tail and
//! commit point, and [`ZabMessage::SyncReply`] the commit point too (so a
//! lost COMMIT cannot complete a sync early); a follower that detects a gap
//! rejoins. Where ZooKeeper's learner retries its TCP connection to a new
//! leader, a follower here repeats FOLLOWERINFO every tick until the leader
//! answers, and a member still LOOKING keeps the FOLLOWERINFOs that reach it
//! early for when it leads. A link reset ([`Member::peer_disconnected`]) plays
//! the part of a closed socket. [`ZabMessage::Commit`]
//! and [`ZabMessage::Ack`] are cumulative (equivalent, since both happen in
//! order), and a follower may learn the commit point from pings. A restarted
//! member does not apply its log on startup: it applies only what it learns is
//! committed, so the data tree never needs rolling back after TRUNC.
//!
//! ```
//! use std::time::Instant;
//! use bytes::Bytes;
//! use zk_testserver::storage::Recovered;
//! use zk_testserver::zab::{Member, Output, ZabConfig};
//!
//! // A single-member ensemble elects itself at once.
//! let now = Instant::now();
//! let mut member = Member::new(ZabConfig::new(1, vec![1]), Recovered::default(), now).unwrap();
//! assert!(member.is_serving());
//! let zxid = member.propose(now, Bytes::from_static(b"create /a")).unwrap();
//! assert_eq!(zxid, 1 << 32 | 1);
//! // The driver logs the entry, then reports it durable; the entry commits.
//! while let Some(out) = member.poll_output() {
//!     if let Output::Append(entries) = out {
//!         let last = entries.last().unwrap().zxid;
//!         member.persisted(now, last);
//!     }
//! }
//! assert_eq!(member.last_committed_zxid(), zxid);
//! ```

mod config;
mod core;
mod election;
mod follower;
mod history;
mod leader;
mod message;
mod quorum;
mod reconfig;
mod timers;

#[cfg(test)]
mod harness;
#[cfg(test)]
mod tests;

use bytes::Bytes;
use rand::SeedableRng;
use std::collections::VecDeque;
use std::time::Instant;

pub use config::{ConfigError, ZabConfig};
pub use message::{make_zxid, zxid_counter, zxid_epoch, Notification, PeerState, Vote, ZabMessage};

use crate::storage::{Epochs, LogEntry, Recovered, Snapshot, Zxid};
use core::{Core, History};
use election::Election;
use follower::Follower;
use leader::Leader;
use message::PeerState as Ps;
use timers::Timers;

/// Identifies a member of the ensemble (ZooKeeper's `myid`).
pub type MemberId = u64;

/// The role of a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Electing a leader.
    Looking,
    /// Following a leader (serving once synced).
    Following,
    /// Leading (serving once established).
    Leading,
}

/// An effect the driver must carry out, in the order they are polled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send `msg` to member `to` on the FIFO link between the two.
    Send {
        /// The destination.
        to: MemberId,
        /// The message.
        msg: ZabMessage,
    },
    /// Serialize the applied data tree (which is exactly at `zxid` when this
    /// output is reached, since Commit outputs are applied in order) and send it
    /// to `to` as [`ZabMessage::Snap`], in order with the other messages to `to`.
    SendSnapshot {
        /// The destination.
        to: MemberId,
        /// The zxid the tree is at.
        zxid: Zxid,
    },
    /// Append the entries to the txn log. They need not be durable at once;
    /// once they are, call [`Member::persisted`] with the last zxid of this
    /// append (appends may be flushed together: group commit).
    Append(Vec<LogEntry>),
    /// Drop every log entry after the zxid, before carrying out later outputs.
    Truncate(Zxid),
    /// Save the epochs durably before carrying out later outputs.
    SaveEpochs(Epochs),
    /// Replace the data tree and the storage with this snapshot (and an empty
    /// log), durably, before carrying out later outputs.
    InstallSnapshot(Snapshot),
    /// Apply the committed entry to the data tree. Commits come strictly in
    /// zxid order and only ever for committed entries.
    Commit(LogEntry),
    /// The member's role changed, or it started serving.
    RoleChanged {
        /// The new role.
        role: Role,
        /// The leader, when known.
        leader: Option<MemberId>,
        /// The member's current epoch.
        epoch: u32,
        /// True if the member now serves clients (synced follower or
        /// established leader). A member stops serving only with a change to
        /// [`Role::Looking`].
        serving: bool,
    },
    /// The [`Member::sync`] request with this token completed: every commit the
    /// leader had when it answered was emitted before this.
    SyncDone(u64),
    /// An application message from a peer ([`ZabMessage::App`]).
    Deliver {
        /// The sending member.
        from: MemberId,
        /// The payload.
        payload: Bytes,
    },
}

/// A leader's view of its followers (for monitoring).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LearnerCounts {
    /// Followers connected to the leader, in any stage of sync.
    pub connected: usize,
    /// Voting followers that acknowledged NEWLEADER (synced, acks counted).
    pub synced: usize,
    /// Observers that acknowledged NEWLEADER (synced, learning commits).
    pub synced_observers: usize,
}

/// The member is not an established leader; writes go to `leader`, if known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not the serving leader (leader: {leader:?})")]
pub struct NotLeader {
    /// The leader this member knows of, if any.
    pub leader: Option<MemberId>,
}

/// The member is not serving (LOOKING, or not yet synced / established).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("member is not serving")]
pub struct NotServing;

/// What a role handler asks the member to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    Stay,
    Look,
    Lead,
    Follow(MemberId),
}

enum State {
    Looking(Election),
    Leading(Leader),
    Following(Follower),
}

/// One ZAB member: a pure state machine driven by its driver.
///
/// # Method groups
///
/// - **Construction**: [`Member::new`] from the configuration and what
///   storage recovered (the data tree is loaded from the snapshot, if any; the
///   log after it is history of unknown commit status).
/// - **Getters**: [`Member::id`], [`Member::role`], [`Member::leader`],
///   [`Member::epoch`], [`Member::epochs`], [`Member::is_serving`],
///   [`Member::last_logged_zxid`], [`Member::last_durable_zxid`],
///   [`Member::last_committed_zxid`], [`Member::next_zxid`],
///   [`Member::learners`].
/// - **Inputs** (`handle_*`): [`Member::step`] (a message from a peer),
///   [`Member::peer_disconnected`] (the link to a peer was reset),
///   [`Member::handle_timeout`] (the timer fired), [`Member::persisted`]
///   (an `Append` became durable).
/// - **Mutators**: [`Member::propose`] (leader), [`Member::sync`],
///   [`Member::send_app`], [`Member::send_to_leader`].
/// - **Polls**: [`Member::poll_output`] (effects), [`Member::poll_timeout`]
///   (when to call `handle_timeout`).
///
/// # Driver loop
///
/// 1. After `new` and after every input or mutator call, drain
///    [`Member::poll_output`] until `None`, carrying out each output in order:
///    `Truncate`, `SaveEpochs` and `InstallSnapshot` complete before the next
///    output; `Append` may complete later (report it with `persisted`); `Send`
///    and `SendSnapshot` go on the per-peer FIFO link; `Commit` is applied to
///    the data tree in order.
/// 2. Then read [`Member::poll_timeout`] and sleep until that instant, a
///    message arrives, or an append becomes durable; call
///    [`Member::handle_timeout`], [`Member::step`] or [`Member::persisted`]
///    accordingly, and go back to 1.
///
/// Pending `sync` tokens and forwarded work are abandoned when the member
/// stops serving; the `RoleChanged` output tells the server layer to fail them.
pub struct Member {
    core: Core,
    state: State,
}

impl Member {
    /// Creates a member from recovered storage and starts an election. The
    /// driver's data tree must hold the snapshot (if any), nothing more.
    pub fn new(config: ZabConfig, recovered: Recovered, now: Instant) -> Result<Self, ConfigError> {
        config.validate()?;
        let base = recovered.snapshot.as_ref().map_or(0, |s| s.zxid);
        let mut core = Core {
            log: History::new(base, recovered.log, config.diff_retention),
            rng: rand::rngs::Xoshiro256PlusPlus::seed_from_u64(config.seed),
            cfg: config,
            epochs: recovered.epochs,
            out: VecDeque::new(),
            timers: Timers::default(),
            round: 0,
            decided: None,
            early_followers: Vec::new(),
        };
        let (election, next) = Election::start(&mut core, now);
        let mut member = Member {
            core,
            state: State::Looking(election),
        };
        member.transition(now, next);
        Ok(member)
    }

    // ----- getters -----

    /// This member's id.
    pub fn id(&self) -> MemberId {
        self.core.id()
    }

    /// The current role.
    pub fn role(&self) -> Role {
        match self.state {
            State::Looking(_) => Role::Looking,
            State::Leading(_) => Role::Leading,
            State::Following(_) => Role::Following,
        }
    }

    /// The leader this member follows or is; None while LOOKING.
    pub fn leader(&self) -> Option<MemberId> {
        match &self.state {
            State::Looking(_) => None,
            State::Leading(_) => Some(self.core.id()),
            State::Following(f) => Some(f.leader()),
        }
    }

    /// The current epoch (`currentEpoch`).
    pub fn epoch(&self) -> u32 {
        self.core.epochs.current
    }

    /// Both saved epochs.
    pub fn epochs(&self) -> Epochs {
        self.core.epochs
    }

    /// True if this member serves clients: an established leader or a follower
    /// that received UPTODATE.
    pub fn is_serving(&self) -> bool {
        match &self.state {
            State::Looking(_) => false,
            State::Leading(l) => l.is_serving(),
            State::Following(f) => f.is_serving(),
        }
    }

    /// The last zxid in the log (durable or not).
    pub fn last_logged_zxid(&self) -> Zxid {
        self.core.log.last()
    }

    /// The last zxid such that the log is durable up to it.
    pub fn last_durable_zxid(&self) -> Zxid {
        self.core.log.durable()
    }

    /// The last zxid emitted as [`Output::Commit`] (or the snapshot's).
    pub fn last_committed_zxid(&self) -> Zxid {
        self.core.log.committed()
    }

    /// The zxid the next [`Member::propose`] will get; None unless this member
    /// is an established leader.
    pub fn next_zxid(&self) -> Option<Zxid> {
        match &self.state {
            State::Leading(l) => l.next_zxid(),
            _ => None,
        }
    }

    /// On a leader, the followers connected to it and how many of them are
    /// synced (acknowledged NEWLEADER); None on other roles.
    pub fn learners(&self) -> Option<LearnerCounts> {
        match &self.state {
            State::Leading(l) => Some(l.learner_counts(&self.core)),
            _ => None,
        }
    }

    // ----- inputs -----

    /// Handles a message from member `from`. Stale, unexpected or malformed
    /// messages are ignored (or make the member rejoin); never a panic.
    pub fn step(&mut self, now: Instant, from: MemberId, msg: ZabMessage) {
        if !self.core.is_member(from) || from == self.core.id() {
            tracing::debug!(from, "message from a non-member ignored");
            return;
        }
        let next = match (&mut self.state, msg) {
            (State::Looking(e), ZabMessage::Vote(n)) => e.on_vote(&mut self.core, now, from, n),
            (State::Looking(_), ZabMessage::App(payload)) => {
                self.core.deliver(from, payload);
                Next::Stay
            }
            (State::Looking(_), ZabMessage::FollowerInfo { accepted_epoch, .. }) => {
                // The sender decided we lead before we did; keep it for then.
                self.core.early_followers.retain(|(id, _)| *id != from);
                self.core.early_followers.push((from, accepted_epoch));
                Next::Stay
            }
            (State::Looking(_), other) => {
                tracing::debug!(from, kind = other.kind(), "LOOKING; message ignored");
                Next::Stay
            }
            (State::Leading(l), ZabMessage::Vote(n)) => {
                if n.state == Ps::Looking {
                    l.on_looking_peer(from);
                    self.answer_looking(from, Ps::Leading);
                }
                Next::Stay
            }
            (State::Following(f), ZabMessage::Vote(n)) => {
                let decided_round = self.core.decided.map_or(0, |(_, r)| r);
                if n.state != Ps::Looking {
                    Next::Stay
                } else if from == f.leader() && n.round > decided_round {
                    // Our leader gave up and started a new election (ZooKeeper
                    // sees its socket close). A vote from the round we decided
                    // in was sent before the leader decided: stale.
                    tracing::debug!(from, "leader is LOOKING; rejoining the election");
                    Next::Look
                } else if from == f.leader() {
                    Next::Stay
                } else {
                    self.answer_looking(from, Ps::Following);
                    Next::Stay
                }
            }
            (State::Leading(l), msg) => l.on_message(&mut self.core, now, from, msg),
            (State::Following(f), msg) => f.on_message(&mut self.core, now, from, msg),
        };
        self.transition(now, next);
    }

    /// The link to `peer` was reset (the peer process died, which a TCP link
    /// reports at once). A follower whose leader it was rejoins the election;
    /// a leader forgets the peer as a learner (its quorum is checked at the
    /// next heartbeat). A partition, in contrast, is noticed by timeouts only.
    pub fn peer_disconnected(&mut self, now: Instant, peer: MemberId) {
        let next = match &mut self.state {
            State::Looking(_) => Next::Stay,
            State::Leading(l) => {
                l.on_looking_peer(peer);
                Next::Stay
            }
            State::Following(f) if f.leader() == peer => {
                tracing::debug!(peer, "link to the leader reset; LOOKING");
                Next::Look
            }
            State::Following(_) => Next::Stay,
        };
        self.transition(now, next);
    }

    /// Handles the timer; call when `now` reaches [`Member::poll_timeout`]
    /// (calling early or late is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        for timer in self.core.timers.expired(now) {
            let next = match &mut self.state {
                State::Looking(e) => e.on_timer(&mut self.core, now, timer),
                State::Leading(l) => l.on_timer(&mut self.core, now, timer),
                State::Following(f) => f.on_timer(&mut self.core, now, timer),
            };
            if next != Next::Stay {
                self.transition(now, next);
                return;
            }
        }
    }

    /// Reports that every `Append` up to and including the one ending with
    /// `up_to` is durable. Reports must follow append order; unknown zxids are
    /// ignored.
    pub fn persisted(&mut self, now: Instant, up_to: Zxid) {
        if !self.core.log.persisted(up_to) {
            tracing::debug!(up_to, "durability report for an unknown append ignored");
            return;
        }
        let next = match &mut self.state {
            State::Looking(_) => Next::Stay,
            State::Leading(l) => l.on_persisted(&mut self.core),
            State::Following(f) => {
                f.on_persisted(&mut self.core);
                Next::Stay
            }
        };
        self.transition(now, next);
    }

    // ----- mutators -----

    /// Proposes a write (an encoded transaction). Only an established leader
    /// accepts; the zxid is returned, and an [`Output::Commit`] for it follows
    /// once a quorum has it durable.
    pub fn propose(&mut self, now: Instant, payload: Bytes) -> Result<Zxid, NotLeader> {
        self.as_leader(now, |l, core| l.propose(core, payload))
    }

    /// Proposes a reconfiguration: `payload` is the entry (replicated and
    /// committed as any other), `members` and `observers` the configuration
    /// that takes effect when it commits. Until then, it and every later
    /// proposal need a quorum of both the current and the next voters, and
    /// connected learners voting next get proposals. On commit the leader
    /// switches at once (stepping down if it no longer votes); every other
    /// member switches when told with [`Member::adopt_config`]. Fails if not
    /// an established leader or another reconfiguration is pending.
    pub fn propose_reconfig(
        &mut self,
        now: Instant,
        payload: Bytes,
        members: Vec<MemberId>,
        observers: Vec<MemberId>,
    ) -> Result<Zxid, NotLeader> {
        self.as_leader(now, |l, core| {
            l.propose_reconfig(core, payload, members, observers)
        })
    }

    /// Makes a proposal with `propose` if this member is an established
    /// leader; [`NotLeader`] otherwise, or when `propose` declines.
    fn as_leader(
        &mut self,
        now: Instant,
        propose: impl FnOnce(&mut Leader, &mut Core) -> Option<Zxid>,
    ) -> Result<Zxid, NotLeader> {
        let State::Leading(l) = &mut self.state else {
            return Err(NotLeader {
                leader: self.leader(),
            });
        };
        if l.exhausted() {
            // The zxid counter is spent: a new epoch is needed (as ZooKeeper does).
            self.transition(now, Next::Look);
            return Err(NotLeader { leader: None });
        }
        propose(l, &mut self.core).ok_or(NotLeader {
            leader: Some(self.core.id()),
        })
    }

    /// Switches to a committed configuration (call it when the
    /// reconfiguration entry is applied): votes, quorums and elections use
    /// `members` from now on, and only members and `observers` are heard. A
    /// member in neither list was removed: it stops serving and stays
    /// LOOKING (no member answers it), as a removed ZooKeeper server does.
    pub fn adopt_config(&mut self, now: Instant, members: Vec<MemberId>, observers: Vec<MemberId>) {
        if members.is_empty() {
            tracing::warn!("configuration without voters ignored");
            return;
        }
        if self.core.cfg.members == members && self.core.cfg.observers == observers {
            return;
        }
        self.core.set_config(members, observers);
        let next = match &mut self.state {
            _ if !self.core.is_member(self.core.id()) => {
                tracing::info!(id = self.core.id(), "removed from the configuration");
                Next::Look
            }
            State::Leading(l) => {
                l.adopt_config(&self.core);
                Next::Stay
            }
            State::Following(f) if !self.core.is_voter(f.leader()) => Next::Look,
            _ => Next::Stay,
        };
        if next == Next::Look && matches!(self.state, State::Looking(_)) {
            return;
        }
        self.transition(now, next);
    }

    /// On an established leader, the members synced with it (itself and
    /// every learner that acknowledged NEWLEADER); empty on other roles.
    pub fn synced_members(&self) -> Vec<MemberId> {
        match &self.state {
            State::Leading(l) if l.is_serving() => l.synced(&self.core),
            _ => Vec::new(),
        }
    }

    /// The voting members of the configuration in force here.
    pub fn voters(&self) -> &[MemberId] {
        &self.core.cfg.members
    }

    /// Asks for [`Output::SyncDone`]`(token)` once every proposal the leader
    /// has outstanding now is committed and applied here.
    pub fn sync(&mut self, _now: Instant, token: u64) -> Result<(), NotServing> {
        let ok = match &mut self.state {
            State::Looking(_) => false,
            State::Leading(l) => l.sync(&mut self.core, token),
            State::Following(f) => f.sync(&mut self.core, token),
        };
        ok.then_some(()).ok_or(NotServing)
    }

    /// Sends an application message to a peer (delivered there as
    /// [`Output::Deliver`]). Only while serving.
    pub fn send_app(&mut self, to: MemberId, payload: Bytes) -> Result<(), NotServing> {
        if !self.is_serving() || !self.core.is_member(to) || to == self.core.id() {
            return Err(NotServing);
        }
        self.core.send(to, ZabMessage::App(payload));
        Ok(())
    }

    /// Sends an application message to the leader this member follows and
    /// returns the leader's id. Fails on a leader or a non-serving member.
    pub fn send_to_leader(&mut self, payload: Bytes) -> Result<MemberId, NotServing> {
        match &self.state {
            State::Following(f) if f.is_serving() => {
                let leader = f.leader();
                self.core.send(leader, ZabMessage::App(payload));
                Ok(leader)
            }
            _ => Err(NotServing),
        }
    }

    // ----- polls -----

    /// The next effect to carry out, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.core.out.pop_front()
    }

    /// When [`Member::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.core.timers.next()
    }

    // ----- internals -----

    fn answer_looking(&mut self, to: MemberId, state: Ps) {
        if let Some((vote, round)) = self.core.decided {
            self.core
                .send(to, ZabMessage::Vote(Notification { vote, round, state }));
        }
    }

    fn transition(&mut self, now: Instant, mut next: Next) {
        loop {
            next = match next {
                Next::Stay => return,
                Next::Look => {
                    self.core.early_followers.clear();
                    let was_looking = matches!(self.state, State::Looking(_));
                    if !was_looking {
                        self.role_changed(Role::Looking, None, false);
                    }
                    let (e, n) = Election::start(&mut self.core, now);
                    self.state = State::Looking(e);
                    n
                }
                Next::Lead => {
                    self.role_changed(Role::Leading, Some(self.core.id()), false);
                    let (l, n) = Leader::start(&mut self.core, now);
                    self.state = State::Leading(l);
                    n
                }
                Next::Follow(leader) => {
                    self.core.early_followers.clear();
                    self.role_changed(Role::Following, Some(leader), false);
                    self.state = State::Following(Follower::start(&mut self.core, leader, now));
                    Next::Stay
                }
            };
        }
    }

    fn role_changed(&mut self, role: Role, leader: Option<MemberId>, serving: bool) {
        let epoch = self.core.epochs.current;
        self.core.emit(Output::RoleChanged {
            role,
            leader,
            epoch,
            serving,
        });
    }
}
