//! Where the member machine checks its failpoints, and how it acts on one
//! that fires (see [`crate::failpoint`] for the points and actions).

use super::{Effect, MemberMachine};
use crate::failpoint::{Action, Failpoint};
use crate::server::{Txn, TxnBody};
use crate::storage::LogEntry;
use crate::zab::{self, MemberId, Role, ZabMessage};
use std::time::Instant;
use zk_client::proto::Record;

/// Where, relative to the effect that reaches a point, the point fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Before,
    After,
}

fn is_close_session(entry: &LogEntry) -> bool {
    Txn::from_bytes(entry.payload.clone())
        .is_ok_and(|t| matches!(t.body, TxnBody::CloseSession { .. }))
}

impl MemberMachine {
    /// Checks the points that fire when a peer message arrives. Returns
    /// false if the message must be dropped unprocessed.
    pub(super) fn failpoint_on_arrival(
        &mut self,
        now: Instant,
        from: MemberId,
        msg: &ZabMessage,
    ) -> bool {
        if !self.failpoints.is_armed(Failpoint::CloseSessionProposal) {
            return true;
        }
        let (ZabMessage::Proposal { entry, .. } | ZabMessage::Inform { entry, .. }) = msg else {
            return true;
        };
        if !is_close_session(entry) {
            return true;
        }
        let Some(action) = self.failpoints.take(Failpoint::CloseSessionProposal) else {
            return true;
        };
        match action {
            Action::Crash => {
                self.crash(Failpoint::CloseSessionProposal);
                false
            }
            Action::Pause(duration) => {
                self.effects.push_back(Effect::Pause {
                    failpoint: Failpoint::CloseSessionProposal,
                    duration,
                });
                true
            }
            Action::Rejoin => {
                // Read off the socket, then the socket failed: the message
                // is never processed and the link to its sender is reset.
                self.repl.peer_disconnected(now, from);
                self.pump(now);
                false
            }
        }
    }

    /// Queues the effect of a replication output that reaches an armed
    /// failpoint, and acts on the failpoint. Returns false (nothing done)
    /// if the output reaches no armed point.
    pub(super) fn failpoint_output(&mut self, now: Instant, out: &zab::Output) -> bool {
        if !self.failpoints.any() {
            return false;
        }
        let (point, place, effect) = match out {
            zab::Output::Send {
                to,
                msg: msg @ ZabMessage::Ack(_),
            } => (
                Failpoint::BeforeAck,
                Place::Before,
                Effect::Send {
                    to: *to,
                    msg: msg.clone(),
                },
            ),
            zab::Output::Send {
                to,
                msg: msg @ ZabMessage::AckNewLeader { .. },
            } => (
                Failpoint::AfterNewLeaderAck,
                Place::After,
                Effect::Send {
                    to: *to,
                    msg: msg.clone(),
                },
            ),
            zab::Output::Truncate(zxid) => {
                (Failpoint::AfterTrunc, Place::After, Effect::Truncate(*zxid))
            }
            zab::Output::Append(entries)
                if self.status.role == Role::Leading
                    && self.failpoints.is_armed(Failpoint::CloseSessionProposal)
                    && entries.iter().any(is_close_session) =>
            {
                (
                    Failpoint::CloseSessionProposal,
                    Place::After,
                    Effect::Append(entries.clone()),
                )
            }
            _ => return false,
        };
        let Some(action) = self.failpoints.take(point) else {
            return false;
        };
        self.act(now, point, place, action, effect);
        true
    }

    /// Queues `effect` and acts on the fired failpoint, before or after it.
    fn act(
        &mut self,
        now: Instant,
        point: Failpoint,
        place: Place,
        action: Action,
        effect: Effect,
    ) {
        match (action, place) {
            (Action::Crash, Place::Before) => self.crash(point),
            (Action::Crash, Place::After) => {
                self.effects.push_back(effect);
                self.crash(point);
            }
            (Action::Pause(duration), Place::Before) => {
                self.effects.push_back(Effect::Pause {
                    failpoint: point,
                    duration,
                });
                self.effects.push_back(effect);
            }
            (Action::Pause(duration), Place::After) => {
                self.effects.push_back(effect);
                self.effects.push_back(Effect::Pause {
                    failpoint: point,
                    duration,
                });
            }
            (Action::Rejoin, _) => {
                self.effects.push_back(effect);
                self.rejoin(now);
            }
        }
    }

    /// The link to the leader fails: a follower goes back to the election.
    fn rejoin(&mut self, now: Instant) {
        if self.status.role == Role::Following {
            if let Some(leader) = self.status.leader {
                self.repl.peer_disconnected(now, leader);
            }
        }
    }

    /// Stops the machine as a killed process.
    pub(super) fn crash(&mut self, point: Failpoint) {
        tracing::warn!(id = self.id, failpoint = %point, "member crashed by a failpoint");
        self.effects.push_back(Effect::Crash(point));
        self.crashed = true;
    }

    /// The follower side of SNAP: the snapshot is installed in memory; queues
    /// its install in storage, firing [`Failpoint::SnapReceived`] before it.
    pub(super) fn failpoint_snap_received(&mut self, now: Instant, effect: Effect) {
        match self.failpoints.take(Failpoint::SnapReceived) {
            None => self.effects.push_back(effect),
            Some(action) => {
                self.act(now, Failpoint::SnapReceived, Place::Before, action, effect);
            }
        }
    }

    /// The leader side of SNAP: queues the snapshot's send, firing
    /// [`Failpoint::SnapSent`] after it.
    pub(super) fn failpoint_snap_sent(&mut self, now: Instant, effect: Effect) {
        match self.failpoints.take(Failpoint::SnapSent) {
            None => self.effects.push_back(effect),
            Some(action) => {
                self.act(now, Failpoint::SnapSent, Place::After, action, effect);
            }
        }
    }
}
