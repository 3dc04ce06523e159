//! FOLLOWING: discovery, sync with the leader, then broadcast.
//!
//! The follower acknowledges NEWLEADER only after every entry it received
//! before it is durable and its `currentEpoch` is saved (the ordering whose
//! absence lost data in ZOOKEEPER-3642 and ZOOKEEPER-3911). It serves on UPTODATE.
//!
//! An observer follows the same way but acknowledges no entry: after the
//! sync the leader sends it only committed entries (INFORM). A learner the
//! leader sends proposals to after NEWLEADER votes in a reconfiguration
//! not yet committed here, and acknowledges them as a voter does.

use std::time::Instant;

use super::core::Core;
use super::message::ZabMessage;
use super::timers::Timer;
use super::{MemberId, Next, Output, Role};
use crate::storage::{LogEntry, Snapshot, Zxid};

/// Where this follower is in its exchange with the leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// FOLLOWERINFO sent; waiting for LEADERINFO.
    Connecting,
    /// ACKEPOCH sent; waiting for DIFF / TRUNC / SNAP.
    EpochAcked { epoch: u32 },
    /// Receiving the leader's history.
    Syncing { epoch: u32 },
    /// NEWLEADER received; waiting until everything up to `target` is durable.
    AwaitDurable { epoch: u32, target: Zxid },
    /// NEWLEADER acknowledged; waiting for UPTODATE.
    Acked { epoch: u32 },
    /// Serving clients.
    Serving { epoch: u32 },
}

impl Stage {
    /// True once the log is aligned with the leader's history.
    fn aligned(self) -> bool {
        !matches!(self, Stage::Connecting | Stage::EpochAcked { .. })
    }

    /// True once NEWLEADER was acknowledged (acks then count at the leader).
    fn acked(self) -> bool {
        matches!(self, Stage::Acked { .. } | Stage::Serving { .. })
    }
}

/// State of a FOLLOWING member.
pub(crate) struct Follower {
    leader: MemberId,
    stage: Stage,
    last_heard: Instant,
    /// The sync must be complete (UPTODATE received) by then.
    sync_deadline: Instant,
    acked_sent: Zxid,
    /// The leader sent proposals (not INFORMs) after NEWLEADER: it counts
    /// this learner's acks though the configuration here has it observing
    /// (it votes in a pending reconfiguration).
    proposed_to: bool,
}

fn send_follower_info(core: &mut Core, leader: MemberId) {
    core.send(
        leader,
        ZabMessage::FollowerInfo {
            accepted_epoch: core.epochs.accepted,
            last_zxid: core.log.last(),
        },
    );
}

/// Logs an entry of the leader's stream, which must follow `prev`; a gap
/// makes the follower rejoin.
fn append(core: &mut Core, prev: Zxid, entry: LogEntry) -> Next {
    if prev != core.log.last() || !core.append(entry) {
        tracing::debug!(prev, last = core.log.last(), "gap in the proposal stream");
        return Next::Look;
    }
    Next::Stay
}

impl Follower {
    pub(crate) fn start(core: &mut Core, leader: MemberId, now: Instant) -> Follower {
        let sync_deadline = now + core.cfg.ticks(core.cfg.init_limit);
        core.timers.clear();
        core.timers.set(Timer::Deadline, sync_deadline);
        core.timers.set(Timer::Heartbeat, now + core.cfg.tick);
        send_follower_info(core, leader);
        Follower {
            leader,
            stage: Stage::Connecting,
            last_heard: now,
            sync_deadline,
            acked_sent: 0,
            proposed_to: false,
        }
    }

    /// Whether this learner acknowledges entries: it votes, here or in the
    /// leader's pending configuration.
    fn acks(&self, core: &Core) -> bool {
        core.is_voter(core.id()) || self.proposed_to
    }

    pub(crate) fn leader(&self) -> MemberId {
        self.leader
    }

    pub(crate) fn is_serving(&self) -> bool {
        matches!(self.stage, Stage::Serving { .. })
    }

    pub(crate) fn on_message(
        &mut self,
        core: &mut Core,
        now: Instant,
        from: MemberId,
        msg: ZabMessage,
    ) -> Next {
        if let ZabMessage::App(payload) = msg {
            core.deliver(from, payload);
            return Next::Stay;
        }
        if from != self.leader {
            tracing::debug!(from, kind = msg.kind(), "message from a non-leader ignored");
            return Next::Stay;
        }
        self.last_heard = now;
        let kind = msg.kind();
        match (self.stage, msg) {
            (Stage::Connecting, ZabMessage::LeaderInfo { epoch }) => {
                self.on_leader_info(core, epoch)
            }
            (Stage::EpochAcked { epoch }, ZabMessage::Diff { zxid }) => {
                if zxid != core.log.last() {
                    tracing::debug!(
                        zxid,
                        last = core.log.last(),
                        "DIFF from a point we are not at"
                    );
                    return Next::Look;
                }
                self.stage = Stage::Syncing { epoch };
                Next::Stay
            }
            (Stage::EpochAcked { epoch }, ZabMessage::Trunc { zxid }) => {
                if !core.log.has(zxid) || !core.log.truncate_after(zxid) {
                    tracing::debug!(zxid, "TRUNC to a point we cannot truncate to");
                    return Next::Look;
                }
                core.emit(Output::Truncate(zxid));
                self.stage = Stage::Syncing { epoch };
                Next::Stay
            }
            (Stage::EpochAcked { epoch }, ZabMessage::Snap { zxid, data }) => {
                if zxid < core.log.committed() {
                    tracing::debug!(zxid, "SNAP older than our commit point");
                    return Next::Look;
                }
                core.log.reset(zxid);
                core.emit(Output::InstallSnapshot(Snapshot {
                    zxid,
                    data: data.into(),
                }));
                self.stage = Stage::Syncing { epoch };
                Next::Stay
            }
            (stage, ZabMessage::Proposal { prev, entry }) if stage.aligned() => {
                // Proposals after NEWLEADER are the broadcast's, not the sync's.
                if !matches!(stage, Stage::Syncing { .. }) {
                    self.proposed_to = true;
                }
                append(core, prev, entry)
            }
            (stage, ZabMessage::Inform { prev, entry }) if stage.aligned() => {
                self.proposed_to = false;
                append(core, prev, entry)
            }
            (stage, ZabMessage::Commit(zxid)) if stage.aligned() => {
                if zxid > core.log.last() {
                    tracing::debug!(zxid, "commit of an entry we never received");
                    return Next::Look;
                }
                core.commit_to(zxid);
                Next::Stay
            }
            (Stage::Syncing { epoch }, ZabMessage::NewLeader { epoch: e, last }) if e == epoch => {
                if last != core.log.last() {
                    tracing::debug!(last, ours = core.log.last(), "sync incomplete at NEWLEADER");
                    return Next::Look;
                }
                self.stage = Stage::AwaitDurable {
                    epoch,
                    target: core.log.last(),
                };
                self.check_durable(core);
                Next::Stay
            }
            (Stage::Acked { epoch }, ZabMessage::UpToDate) => {
                self.stage = Stage::Serving { epoch };
                core.timers
                    .set(Timer::Deadline, now + core.cfg.ticks(core.cfg.sync_limit));
                core.emit(Output::RoleChanged {
                    role: Role::Following,
                    leader: Some(self.leader),
                    epoch,
                    serving: true,
                });
                Next::Stay
            }
            (stage, ZabMessage::Ping { last, committed }) => {
                if stage.aligned() {
                    if last.max(committed) > core.log.last() {
                        // Every proposal was sent before this ping: we lost some.
                        tracing::debug!(last, ours = core.log.last(), "missing proposals");
                        return Next::Look;
                    }
                    core.commit_to(committed);
                }
                let acked = if stage.acked() && self.acks(core) {
                    core.log.durable()
                } else {
                    0
                };
                core.send(from, ZabMessage::PingReply { acked });
                Next::Stay
            }
            (stage, ZabMessage::SyncReply { token, committed }) if stage.acked() => {
                if committed > core.log.last() {
                    // Every proposal was sent before this reply: we lost some.
                    tracing::debug!(
                        committed,
                        ours = core.log.last(),
                        "missing proposals at sync"
                    );
                    return Next::Look;
                }
                core.commit_to(committed);
                core.emit(Output::SyncDone(token));
                Next::Stay
            }
            (stage, _) => {
                tracing::debug!(kind, ?stage, "unexpected message from the leader ignored");
                Next::Stay
            }
        }
    }

    fn on_leader_info(&mut self, core: &mut Core, epoch: u32) -> Next {
        let fresh = match epoch.cmp(&core.epochs.accepted) {
            std::cmp::Ordering::Greater => {
                core.epochs.accepted = epoch;
                core.save_epochs();
                true
            }
            std::cmp::Ordering::Equal => false,
            std::cmp::Ordering::Less => {
                tracing::debug!(
                    epoch,
                    accepted = core.epochs.accepted,
                    "leader epoch too old"
                );
                return Next::Look;
            }
        };
        core.send(
            self.leader,
            ZabMessage::AckEpoch {
                current_epoch: core.epochs.current,
                fresh,
                last_zxid: core.log.last(),
            },
        );
        self.stage = Stage::EpochAcked { epoch };
        Next::Stay
    }

    /// Acknowledges NEWLEADER once the synced history is durable: first the
    /// log, then `currentEpoch`, then the ACK.
    fn check_durable(&mut self, core: &mut Core) {
        if let Stage::AwaitDurable { epoch, target } = self.stage {
            if core.log.durable() < target {
                return;
            }
            core.epochs.current = epoch;
            core.save_epochs();
            core.send(self.leader, ZabMessage::AckNewLeader { epoch });
            self.acked_sent = target;
            self.stage = Stage::Acked { epoch };
        }
        self.maybe_ack(core);
    }

    fn maybe_ack(&mut self, core: &mut Core) {
        let durable = core.log.durable();
        if self.stage.acked() && self.acks(core) && durable > self.acked_sent {
            self.acked_sent = durable;
            core.send(self.leader, ZabMessage::Ack(durable));
        }
    }

    pub(crate) fn on_persisted(&mut self, core: &mut Core) {
        self.check_durable(core);
    }

    pub(crate) fn sync(&mut self, core: &mut Core, token: u64) -> bool {
        if !self.is_serving() {
            return false;
        }
        core.send(self.leader, ZabMessage::Sync { token });
        true
    }

    pub(crate) fn on_timer(&mut self, core: &mut Core, now: Instant, timer: Timer) -> Next {
        if timer == Timer::Heartbeat {
            // Until the leader answers, say it again: the first FOLLOWERINFO
            // may have been lost (ZooKeeper's learner retries its connection).
            if self.stage == Stage::Connecting {
                send_follower_info(core, self.leader);
                core.timers.set(Timer::Heartbeat, now + core.cfg.tick);
            }
            return Next::Stay;
        }
        if timer != Timer::Deadline {
            return Next::Stay;
        }
        let limit = if self.is_serving() {
            core.cfg.sync_limit
        } else {
            core.cfg.init_limit
        };
        let mut expires = self.last_heard + core.cfg.ticks(limit);
        if !self.is_serving() {
            expires = expires.min(self.sync_deadline);
        }
        if now >= expires {
            tracing::debug!(
                id = core.id(),
                leader = self.leader,
                "leader silent or sync too slow; LOOKING"
            );
            return Next::Look;
        }
        core.timers.set(Timer::Deadline, expires);
        Next::Stay
    }
}
