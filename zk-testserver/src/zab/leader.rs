//! LEADING: discovery (epoch), per-follower sync, establishment, broadcast.
//!
//! Discovery and sync follow ZooKeeper's `Leader` / `LearnerHandler`:
//! 1. collect FOLLOWERINFO from a quorum, pick `max(acceptedEpoch) + 1`, send LEADERINFO;
//! 2. collect fresh ACKEPOCHs from a quorum (none more recent than the leader),
//!    then sync each follower (DIFF / TRUNC / SNAP, proposals, commit point, NEWLEADER);
//! 3. once a quorum (the leader included, after its own log is durable) acked
//!    NEWLEADER, commit the initial history and send UPTODATE.
//!
//! A follower is in the forwarding set from the moment its sync is queued, so
//! it sees every later proposal and commit in order. An observer in that set
//! sees no proposal until it commits: it is then sent the entry as an
//! INFORM and the commit, so it never logs what may be lost and never
//! acknowledges (its acks would count for nothing anyway: only voters'
//! durable points decide a commit).

use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

use super::core::Core;
use super::message::{make_zxid, ZabMessage};
use super::quorum::{is_quorum, watermark};
use super::reconfig::PendingConfig;
use super::timers::Timer;
use super::{LearnerCounts, MemberId, Next, Output, Role};
use crate::storage::{LogEntry, Zxid};

/// Where one follower is in its exchange with this leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// FOLLOWERINFO received; the epoch is not decided yet.
    Info { accepted_epoch: u32 },
    /// LEADERINFO sent; waiting for ACKEPOCH.
    EpochSent,
    /// ACKEPOCH received; waiting for an epoch quorum before syncing.
    AwaitSync { last_zxid: Zxid },
    /// Sync and NEWLEADER queued (forwarding); `nl_zxid` is our last zxid then.
    Syncing { nl_zxid: Zxid },
    /// NEWLEADER acknowledged (forwarding; acks count).
    Broadcast,
}

#[derive(Debug)]
struct Learner {
    stage: Stage,
    /// When the follower connected (FOLLOWERINFO); it must be synced within init_limit.
    since: Instant,
    last_heard: Instant,
    /// Durable point reported by the follower (Broadcast only).
    acked: Zxid,
    /// The last proposal sent to it (forwarding only): the tail of the log
    /// for a voter, the last committed entry (or the sync's tail) for an
    /// observer.
    sent: Zxid,
}

impl Learner {
    fn forwarding(&self) -> bool {
        matches!(self.stage, Stage::Syncing { .. } | Stage::Broadcast)
    }

    /// Sends learner `id` the entries of our history after the last one it
    /// got, up to `upto`, each built by `message(prev, entry)`. False, and
    /// nothing sent, if the history no longer holds the entry it got last:
    /// retention dropped entries it lacks, and the stream would have a hole
    /// its `prev` checks could not see.
    fn catch_up(
        &mut self,
        core: &mut Core,
        id: MemberId,
        upto: Zxid,
        message: fn(Zxid, LogEntry) -> ZabMessage,
    ) -> bool {
        if !core.log.has(self.sent) {
            return false;
        }
        let entries: Vec<LogEntry> = core
            .log
            .after(self.sent)
            .take_while(|e| e.zxid <= upto)
            .cloned()
            .collect();
        for entry in entries {
            let prev = std::mem::replace(&mut self.sent, entry.zxid);
            core.send(id, message(prev, entry));
        }
        true
    }
}

#[derive(Debug)]
struct PendingSync {
    target: Zxid,
    requester: Option<MemberId>,
    token: u64,
}

/// Whether learner `id` gets proposals before they commit: a voter, or a
/// learner that votes in the pending configuration.
fn gets_proposals(core: &Core, pending: Option<&PendingConfig>, id: MemberId) -> bool {
    core.is_voter(id) || pending.is_some_and(|p| p.members.contains(&id))
}

/// State of a LEADING member.
pub(crate) struct Leader {
    epoch: Option<u32>,
    learners: BTreeMap<MemberId, Learner>,
    epoch_acks: BTreeSet<MemberId>,
    election_finished: bool,
    nl_acks: BTreeSet<MemberId>,
    established: bool,
    /// (currentEpoch, last zxid) when leadership started.
    summary: (u32, Zxid),
    next_counter: u32,
    syncs: VecDeque<PendingSync>,
    /// A reconfiguration proposed and not yet committed (at most one).
    pending: Option<PendingConfig>,
    /// A committed reconfiguration left this leader without a vote: it steps
    /// down (ZooKeeper's removed leader stops serving).
    removed: bool,
}

impl Leader {
    pub(crate) fn start(core: &mut Core, now: Instant) -> (Leader, Next) {
        let mut leader = Leader {
            epoch: None,
            learners: BTreeMap::new(),
            epoch_acks: BTreeSet::new(),
            election_finished: false,
            nl_acks: BTreeSet::new(),
            established: false,
            summary: (core.epochs.current, core.log.last()),
            next_counter: 1,
            syncs: VecDeque::new(),
            pending: None,
            removed: false,
        };
        core.timers.clear();
        core.timers.set(Timer::Heartbeat, now + core.cfg.tick);
        core.timers
            .set(Timer::Deadline, now + core.cfg.ticks(core.cfg.init_limit));
        let mut next = leader.try_decide_epoch(core, now);
        for (from, accepted_epoch) in std::mem::take(&mut core.early_followers) {
            if next != Next::Stay {
                break;
            }
            next = leader.on_follower_info(core, now, from, accepted_epoch);
        }
        (leader, next)
    }

    pub(crate) fn is_serving(&self) -> bool {
        self.established
    }

    fn forwarding(&self) -> Vec<MemberId> {
        self.learners
            .iter()
            .filter(|(_, l)| l.forwarding())
            .map(|(&id, _)| id)
            .collect()
    }

    /// A LOOKING member is no longer following us, whatever we thought.
    pub(crate) fn on_looking_peer(&mut self, from: MemberId) {
        if self.learners.remove(&from).is_some() {
            tracing::debug!(from, "learner went LOOKING; dropped");
        }
    }

    pub(crate) fn on_message(
        &mut self,
        core: &mut Core,
        now: Instant,
        from: MemberId,
        msg: ZabMessage,
    ) -> Next {
        if let Some(l) = self.learners.get_mut(&from) {
            l.last_heard = now;
        }
        let next = self.dispatch(core, now, from, msg);
        if self.removed {
            return Next::Look;
        }
        next
    }

    fn dispatch(&mut self, core: &mut Core, now: Instant, from: MemberId, msg: ZabMessage) -> Next {
        match msg {
            ZabMessage::FollowerInfo { accepted_epoch, .. } => {
                self.on_follower_info(core, now, from, accepted_epoch)
            }
            ZabMessage::AckEpoch {
                current_epoch,
                fresh,
                last_zxid,
            } => self.on_ack_epoch(core, now, from, (current_epoch, last_zxid), fresh),
            ZabMessage::AckNewLeader { epoch } => self.on_ack_new_leader(core, from, epoch),
            ZabMessage::Ack(zxid) | ZabMessage::PingReply { acked: zxid } => {
                self.on_ack(core, from, zxid);
                Next::Stay
            }
            ZabMessage::Sync { token } => {
                if self.learners.get(&from).is_some_and(Learner::forwarding) {
                    self.syncs.push_back(PendingSync {
                        target: core.log.last(),
                        requester: Some(from),
                        token,
                    });
                    self.complete_syncs(core);
                } else {
                    tracing::debug!(from, "sync from a non-synced follower ignored");
                }
                Next::Stay
            }
            ZabMessage::App(payload) => {
                core.deliver(from, payload);
                Next::Stay
            }
            other => {
                tracing::debug!(from, kind = other.kind(), "unexpected message for a leader");
                Next::Stay
            }
        }
    }

    fn on_follower_info(
        &mut self,
        core: &mut Core,
        now: Instant,
        from: MemberId,
        accepted_epoch: u32,
    ) -> Next {
        if self.established && self.epoch.is_some_and(|e| accepted_epoch > e) {
            // The follower promised a later epoch (to a leader that failed) and
            // would refuse ours forever. Give way to an election with a higher
            // epoch; raising our own promise is always safe.
            tracing::debug!(
                from,
                accepted_epoch,
                "follower accepted a later epoch; stepping down"
            );
            core.epochs.accepted = core.epochs.accepted.max(accepted_epoch);
            core.save_epochs();
            return Next::Look;
        }
        let mut learner = Learner {
            stage: Stage::Info { accepted_epoch },
            since: now,
            last_heard: now,
            acked: 0,
            sent: 0,
        };
        if let Some(epoch) = self.epoch {
            core.send(from, ZabMessage::LeaderInfo { epoch });
            learner.stage = Stage::EpochSent;
        }
        self.learners.insert(from, learner);
        self.try_decide_epoch(core, now)
    }

    fn try_decide_epoch(&mut self, core: &mut Core, now: Instant) -> Next {
        if self.epoch.is_some() {
            return Next::Stay;
        }
        let mut connected = BTreeSet::from([core.id()]);
        let mut max_accepted = core.epochs.accepted;
        for (&id, l) in &self.learners {
            if let Stage::Info { accepted_epoch } = l.stage {
                connected.insert(id);
                max_accepted = max_accepted.max(accepted_epoch);
            }
        }
        if !is_quorum(&connected, &core.cfg.members) {
            return Next::Stay;
        }
        let Some(epoch) = max_accepted
            .checked_add(1)
            .filter(|&e| e <= i32::MAX as u32)
        else {
            tracing::debug!("epoch space exhausted");
            return Next::Look;
        };
        tracing::debug!(id = core.id(), epoch, "leader proposes epoch");
        self.epoch = Some(epoch);
        core.epochs.accepted = epoch;
        core.save_epochs();
        for (&id, l) in self.learners.iter_mut() {
            if matches!(l.stage, Stage::Info { .. }) {
                core.out.push_back(Output::Send {
                    to: id,
                    msg: ZabMessage::LeaderInfo { epoch },
                });
                l.stage = Stage::EpochSent;
            }
        }
        self.epoch_acks.insert(core.id());
        core.timers
            .set(Timer::Deadline, now + core.cfg.ticks(core.cfg.init_limit));
        self.try_finish_election(core, now)
    }

    fn on_ack_epoch(
        &mut self,
        core: &mut Core,
        now: Instant,
        from: MemberId,
        state: (u32, Zxid),
        fresh: bool,
    ) -> Next {
        let Some(learner) = self.learners.get_mut(&from) else {
            tracing::debug!(from, "ACKEPOCH from an unknown follower ignored");
            return Next::Stay;
        };
        if learner.stage != Stage::EpochSent {
            tracing::debug!(from, "unexpected ACKEPOCH ignored");
            return Next::Stay;
        }
        learner.stage = Stage::AwaitSync { last_zxid: state.1 };
        if self.election_finished {
            self.start_sync(core, from, state.1);
            return Next::Stay;
        }
        if fresh {
            if state > self.summary {
                tracing::debug!(from, "follower is ahead of the leader; refused");
                self.learners.remove(&from);
                return Next::Stay;
            }
            self.epoch_acks.insert(from);
        }
        self.try_finish_election(core, now)
    }

    fn try_finish_election(&mut self, core: &mut Core, now: Instant) -> Next {
        if !self.election_finished && is_quorum(&self.epoch_acks, &core.cfg.members) {
            self.election_finished = true;
            core.timers
                .set(Timer::Deadline, now + core.cfg.ticks(core.cfg.init_limit));
            let waiting: Vec<(MemberId, Zxid)> = self
                .learners
                .iter()
                .filter_map(|(&id, l)| match l.stage {
                    Stage::AwaitSync { last_zxid } => Some((id, last_zxid)),
                    _ => None,
                })
                .collect();
            for (id, last_zxid) in waiting {
                self.start_sync(core, id, last_zxid);
            }
        }
        self.maybe_self_ack(core)
    }

    /// The leader acknowledges its own NEWLEADER once its history is durable.
    fn maybe_self_ack(&mut self, core: &mut Core) -> Next {
        let Some(epoch) = self.epoch else {
            return Next::Stay;
        };
        if !self.election_finished
            || self.nl_acks.contains(&core.id())
            || core.log.durable() < core.log.last()
        {
            return Next::Stay;
        }
        core.epochs.current = epoch;
        core.save_epochs();
        self.nl_acks.insert(core.id());
        self.try_establish(core);
        Next::Stay
    }

    /// Queues the sync of one follower whose last zxid is `fz`.
    fn start_sync(&mut self, core: &mut Core, to: MemberId, fz: Zxid) {
        let Some(epoch) = self.epoch else { return };
        let (last, trim, committed) = (core.log.last(), core.log.trim(), core.log.committed());
        let start = if fz == last || core.log.has(fz) {
            tracing::debug!(to, fz, "sync by DIFF");
            core.send(to, ZabMessage::Diff { zxid: fz });
            fz
        } else if fz > trim {
            let common = core.log.floor(fz);
            tracing::debug!(to, fz, common, "sync by TRUNC");
            core.send(to, ZabMessage::Trunc { zxid: common });
            common
        } else {
            tracing::debug!(to, fz, committed, "sync by SNAP");
            core.emit(Output::SendSnapshot {
                to,
                zxid: committed,
            });
            committed
        };
        let mut prev = start;
        let proposals: Vec<LogEntry> = core.log.after(start).cloned().collect();
        for entry in proposals {
            let zxid = entry.zxid;
            core.send(to, ZabMessage::Proposal { prev, entry });
            prev = zxid;
        }
        core.send(to, ZabMessage::Commit(committed));
        core.send(to, ZabMessage::NewLeader { epoch, last });
        if let Some(l) = self.learners.get_mut(&to) {
            l.stage = Stage::Syncing { nl_zxid: last };
            l.sent = last;
        }
    }

    fn on_ack_new_leader(&mut self, core: &mut Core, from: MemberId, epoch: u32) -> Next {
        let Some(l) = self.learners.get_mut(&from) else {
            return Next::Stay;
        };
        let Stage::Syncing { nl_zxid } = l.stage else {
            tracing::debug!(from, "unexpected ACK of NEWLEADER ignored");
            return Next::Stay;
        };
        if Some(epoch) != self.epoch {
            tracing::debug!(from, epoch, "ACK of NEWLEADER for another epoch ignored");
            return Next::Stay;
        }
        l.stage = Stage::Broadcast;
        l.acked = l.acked.max(nl_zxid);
        self.nl_acks.insert(from);
        if self.established {
            core.send(from, ZabMessage::Commit(core.log.committed()));
            core.send(from, ZabMessage::UpToDate);
            self.try_commit(core);
        } else {
            self.try_establish(core);
        }
        Next::Stay
    }

    fn try_establish(&mut self, core: &mut Core) {
        if self.established
            || !self.nl_acks.contains(&core.id())
            || !is_quorum(&self.nl_acks, &core.cfg.members)
        {
            return;
        }
        self.established = true;
        core.timers.stop(Timer::Deadline);
        tracing::debug!(
            id = core.id(),
            epoch = core.epochs.current,
            "leader established"
        );
        core.commit_to(core.log.last());
        let committed = core.log.committed();
        for (&id, l) in &self.learners {
            if l.forwarding() {
                core.out.push_back(Output::Send {
                    to: id,
                    msg: ZabMessage::Commit(committed),
                });
            }
            if l.stage == Stage::Broadcast {
                core.out.push_back(Output::Send {
                    to: id,
                    msg: ZabMessage::UpToDate,
                });
            }
        }
        core.emit(Output::RoleChanged {
            role: Role::Leading,
            leader: Some(core.id()),
            epoch: core.epochs.current,
            serving: true,
        });
        self.try_commit(core);
    }

    fn on_ack(&mut self, core: &mut Core, from: MemberId, zxid: Zxid) {
        let last = core.log.last();
        match self.learners.get_mut(&from) {
            Some(l) if l.stage == Stage::Broadcast => l.acked = l.acked.max(zxid.min(last)),
            _ => return,
        }
        self.try_commit(core);
    }

    /// Commits whatever a quorum has made durable.
    fn try_commit(&mut self, core: &mut Core) {
        if !self.established {
            return;
        }
        let marks = self.durable_marks(core, &core.cfg.members);
        let Some(mut mark) = watermark(marks, core.cfg.quorum()) else {
            return;
        };
        if let Some(p) = &self.pending {
            mark = p.commit_point(mark, self.durable_marks(core, &p.members));
        }
        if mark <= core.log.committed() {
            return;
        }
        // Observers get the newly committed entries before `commit_to`,
        // which may drop them from the retained history at once (retention
        // counts committed entries): an observer informed afterwards,
        // behind by more than the retention, would miss some.
        self.inform_observers(core, mark);
        core.commit_to(mark);
        let committed = core.log.committed();
        for id in self.forwarding() {
            core.send(id, ZabMessage::Commit(committed));
        }
        self.complete_syncs(core);
        if self.pending.as_ref().is_some_and(|p| p.zxid <= committed) {
            self.switch_config(core);
        }
    }

    /// The durable point of each of `voters` this leader knows (itself
    /// included): observers' and non-voters' acks count for nothing.
    fn durable_marks(&self, core: &Core, voters: &[MemberId]) -> Vec<Zxid> {
        let mut marks = Vec::with_capacity(voters.len());
        if voters.contains(&core.id()) {
            marks.push(core.log.durable());
        }
        marks.extend(
            self.learners
                .iter()
                .filter(|(id, l)| l.stage == Stage::Broadcast && voters.contains(id))
                .map(|(_, l)| l.acked),
        );
        marks
    }

    /// Proposes a reconfiguration: `payload` is the entry, `members` and
    /// `observers` the configuration it installs once committed. None if not
    /// established, the counter is spent, or another one is pending.
    pub(crate) fn propose_reconfig(
        &mut self,
        core: &mut Core,
        payload: Bytes,
        members: Vec<MemberId>,
        observers: Vec<MemberId>,
    ) -> Option<Zxid> {
        if self.pending.is_some() || members.is_empty() {
            return None;
        }
        let zxid = self.next_zxid()?;
        self.pending = Some(PendingConfig {
            zxid,
            members,
            observers,
        });
        let Some(zxid) = self.propose(core, payload) else {
            self.pending = None;
            return None;
        };
        self.catch_up_voters(core);
        Some(zxid)
    }

    /// Sends each forwarding learner that now gets proposals (a learner
    /// voting in the pending configuration) the ones it has not seen.
    fn catch_up_voters(&mut self, core: &mut Core) {
        let ids: Vec<MemberId> = self
            .learners
            .iter()
            .filter(|(_, l)| l.forwarding() && l.sent < core.log.last())
            .map(|(&id, _)| id)
            .filter(|&id| gets_proposals(core, self.pending.as_ref(), id))
            .collect();
        let last = core.log.last();
        for id in ids {
            let Some(l) = self.learners.get_mut(&id) else {
                continue;
            };
            if !l.catch_up(core, id, last, |prev, entry| ZabMessage::Proposal { prev, entry }) {
                self.drop_behind(id);
            }
        }
    }

    /// A learner lacks entries the history no longer holds: forget it, so
    /// that it times out, rejoins and syncs again (by SNAP), rather than
    /// get a stream with a hole in it.
    fn drop_behind(&mut self, id: MemberId) {
        tracing::warn!(id, "learner behind the retained history; dropped");
        self.learners.remove(&id);
    }

    /// The pending reconfiguration committed: count acks, decide quorums and
    /// accept learners by the new configuration from now on.
    fn switch_config(&mut self, core: &mut Core) {
        let Some(p) = self.pending.take() else { return };
        tracing::info!(
            id = core.id(),
            zxid = format_args!("{:#x}", p.zxid),
            voters = ?p.members,
            "configuration committed"
        );
        core.set_config(p.members, p.observers);
        self.learners.retain(|&id, _| core.is_member(id));
        self.catch_up_voters(core);
        if !core.is_voter(core.id()) {
            tracing::info!(id = core.id(), "leader removed from the configuration");
            self.removed = true;
        }
    }

    /// The configuration committed and applied: forget learners it removed.
    pub(crate) fn adopt_config(&mut self, core: &Core) {
        self.learners.retain(|&id, _| core.is_member(id));
    }

    /// Sends each forwarding observer the entries up to `committed` (just
    /// decided) since the last it got, as INFORMs (the commit follows).
    /// ZooKeeper's leader informs its observers of each proposal as it
    /// commits; here an observer may be behind by several (it was syncing).
    fn inform_observers(&mut self, core: &mut Core, committed: Zxid) {
        let pending = self.pending.as_ref();
        let mut behind = Vec::new();
        for (&id, l) in &mut self.learners {
            if !l.forwarding() || gets_proposals(core, pending, id) || l.sent >= committed {
                continue;
            }
            if !l.catch_up(core, id, committed, |prev, entry| ZabMessage::Inform { prev, entry }) {
                behind.push(id);
            }
        }
        for id in behind {
            self.drop_behind(id);
        }
    }

    fn complete_syncs(&mut self, core: &mut Core) {
        while self
            .syncs
            .front()
            .is_some_and(|s| s.target <= core.log.committed())
        {
            let Some(s) = self.syncs.pop_front() else {
                break;
            };
            match s.requester {
                None => core.emit(Output::SyncDone(s.token)),
                Some(id) if self.learners.get(&id).is_some_and(Learner::forwarding) => {
                    let committed = core.log.committed();
                    core.send(
                        id,
                        ZabMessage::SyncReply {
                            token: s.token,
                            committed,
                        },
                    );
                }
                Some(_) => {}
            }
        }
    }

    pub(crate) fn on_persisted(&mut self, core: &mut Core) -> Next {
        let next = self.maybe_self_ack(core);
        self.try_commit(core);
        if self.removed {
            return Next::Look;
        }
        next
    }

    /// Proposes a new entry; None if not established or the counter is spent.
    pub(crate) fn propose(&mut self, core: &mut Core, payload: Bytes) -> Option<Zxid> {
        let epoch = self.epoch?;
        if !self.established || self.next_counter == u32::MAX {
            return None;
        }
        let zxid = make_zxid(epoch, self.next_counter);
        self.next_counter += 1;
        let prev = core.log.last();
        let entry = LogEntry { zxid, payload };
        if !core.append(entry.clone()) {
            return None;
        }
        let pending = self.pending.as_ref();
        for (&id, l) in &mut self.learners {
            // Observers (and learners without a vote) learn the proposal
            // once it commits.
            if !l.forwarding() || !gets_proposals(core, pending, id) {
                continue;
            }
            l.sent = zxid;
            core.send(
                id,
                ZabMessage::Proposal {
                    prev,
                    entry: entry.clone(),
                },
            );
        }
        Some(zxid)
    }

    /// The zxid of the next proposal, once established.
    pub(crate) fn next_zxid(&self) -> Option<Zxid> {
        let epoch = self.epoch?;
        (self.established && self.next_counter < u32::MAX)
            .then(|| make_zxid(epoch, self.next_counter))
    }

    /// This leader and the learners synced with it.
    pub(crate) fn synced(&self, core: &Core) -> Vec<MemberId> {
        let mut ids = vec![core.id()];
        ids.extend(
            self.learners
                .iter()
                .filter(|(_, l)| l.stage == Stage::Broadcast)
                .map(|(&id, _)| id),
        );
        ids
    }

    /// Connected learners, and the synced ones: voters and observers.
    pub(crate) fn learner_counts(&self, core: &Core) -> LearnerCounts {
        let synced = |observers: bool| {
            self.learners
                .iter()
                .filter(|(&id, l)| l.stage == Stage::Broadcast && core.is_observer(id) == observers)
                .count()
        };
        LearnerCounts {
            connected: self.learners.len(),
            synced: synced(false),
            synced_observers: synced(true),
        }
    }

    /// True once no more proposals fit in this epoch.
    pub(crate) fn exhausted(&self) -> bool {
        self.next_counter == u32::MAX
    }

    pub(crate) fn sync(&mut self, core: &mut Core, token: u64) -> bool {
        if !self.established {
            return false;
        }
        self.syncs.push_back(PendingSync {
            target: core.log.last(),
            requester: None,
            token,
        });
        self.complete_syncs(core);
        true
    }

    pub(crate) fn on_timer(&mut self, core: &mut Core, now: Instant, timer: Timer) -> Next {
        match timer {
            Timer::Heartbeat => {
                core.timers.set(Timer::Heartbeat, now + core.cfg.tick);
                self.heartbeat(core, now)
            }
            Timer::Deadline if !self.established => {
                tracing::debug!(id = core.id(), "no quorum established within init_limit");
                Next::Look
            }
            _ => Next::Stay,
        }
    }

    fn heartbeat(&mut self, core: &mut Core, now: Instant) -> Next {
        let (init, sync) = (
            core.cfg.ticks(core.cfg.init_limit),
            core.cfg.ticks(core.cfg.sync_limit),
        );
        self.learners.retain(|id, l| {
            let alive = if l.stage == Stage::Broadcast {
                now < l.last_heard + sync
            } else {
                now < l.since + init
            };
            if !alive {
                tracing::debug!(id, "learner timed out; dropped");
            }
            alive
        });
        let (last, committed) = (core.log.last(), core.log.committed());
        for (&id, l) in &self.learners {
            if !matches!(l.stage, Stage::Info { .. }) {
                // A learner checks that it got every proposal up to `last`.
                let last = if l.forwarding() { l.sent } else { last };
                let msg = ZabMessage::Ping { last, committed };
                core.out.push_back(Output::Send { to: id, msg });
            }
        }
        if self.established {
            let mut synced: BTreeSet<MemberId> = self
                .learners
                .iter()
                .filter(|(_, l)| l.stage == Stage::Broadcast)
                .map(|(&id, _)| id)
                .collect();
            synced.insert(core.id());
            if !is_quorum(&synced, &core.cfg.members) {
                tracing::debug!(id = core.id(), "leader lost its quorum");
                return Next::Look;
            }
        }
        Next::Stay
    }
}
