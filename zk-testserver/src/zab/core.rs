//! State every role shares: configuration, epochs, history, outputs, timers.

use bytes::Bytes;
use rand::rngs::Xoshiro256PlusPlus;
use std::collections::VecDeque;

use super::message::{Vote, ZabMessage};
use super::timers::Timers;
use super::{MemberId, Output, ZabConfig};
use crate::storage::{Epochs, LogEntry, Zxid};

/// The role-independent part of a member.
pub(crate) struct Core {
    pub(crate) cfg: ZabConfig,
    pub(crate) epochs: Epochs,
    pub(crate) log: History,
    pub(crate) out: VecDeque<Output>,
    pub(crate) rng: Xoshiro256PlusPlus,
    pub(crate) timers: Timers,
    /// The election round (`logicalclock`); kept across elections, not persisted.
    pub(crate) round: u64,
    /// The vote decided by the last election and its round; announced to
    /// LOOKING members while following or leading.
    pub(crate) decided: Option<(Vote, u64)>,
    /// FOLLOWERINFOs (sender, accepted epoch) that arrived while this member
    /// was still LOOKING: a peer may decide first and reach us before we
    /// decide. Handed to the leader role if we lead; dropped otherwise.
    pub(crate) early_followers: Vec<(MemberId, u32)>,
}

pub(crate) use super::history::History;

impl Core {
    pub(crate) fn id(&self) -> MemberId {
        self.cfg.id
    }

    /// A voter or an observer of this ensemble.
    pub(crate) fn is_member(&self, id: MemberId) -> bool {
        self.is_voter(id) || self.is_observer(id)
    }

    /// A member whose vote counts.
    pub(crate) fn is_voter(&self, id: MemberId) -> bool {
        self.cfg.members.contains(&id)
    }

    /// A member without a vote (an observer).
    pub(crate) fn is_observer(&self, id: MemberId) -> bool {
        self.cfg.observers.contains(&id)
    }

    /// Every member but this one, observers included.
    pub(crate) fn others(&self) -> Vec<MemberId> {
        let me = self.id();
        self.cfg
            .members
            .iter()
            .chain(&self.cfg.observers)
            .copied()
            .filter(|&m| m != me)
            .collect()
    }

    /// Switches to a committed configuration: who votes and who observes.
    pub(crate) fn set_config(&mut self, members: Vec<MemberId>, observers: Vec<MemberId>) {
        self.cfg.members = members;
        self.cfg.observers = observers;
    }

    pub(crate) fn send(&mut self, to: MemberId, msg: ZabMessage) {
        self.out.push_back(Output::Send { to, msg });
    }

    pub(crate) fn emit(&mut self, output: Output) {
        self.out.push_back(output);
    }

    /// The vote for this member itself.
    pub(crate) fn self_vote(&self) -> Vote {
        Vote {
            leader: self.id(),
            zxid: self.log.last(),
            epoch: self.epochs.current,
        }
    }

    pub(crate) fn save_epochs(&mut self) {
        self.out.push_back(Output::SaveEpochs(self.epochs));
    }

    /// Appends to the history and asks the driver to log the entry.
    pub(crate) fn append(&mut self, entry: LogEntry) -> bool {
        if !self.log.append(entry.clone()) {
            return false;
        }
        self.out.push_back(Output::Append(vec![entry]));
        true
    }

    /// Commits up to `zxid` (clamped to the log), emitting each newly committed
    /// entry in order.
    pub(crate) fn commit_to(&mut self, zxid: Zxid) {
        for entry in self.log.commit_to(zxid) {
            self.out.push_back(Output::Commit(entry));
        }
    }

    pub(crate) fn deliver(&mut self, from: MemberId, payload: Bytes) {
        self.out.push_back(Output::Deliver { from, payload });
    }
}
