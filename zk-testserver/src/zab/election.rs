//! Fast leader election: LOOKING members exchange votes until a quorum agrees.
//!
//! A vote beats another by (epoch, last zxid, member id). A member adopts any
//! better vote it hears in its round and re-broadcasts; it decides once a
//! quorum of its round holds its vote (after a short finalize wait unless
//! every member agrees). Members already FOLLOWING or LEADING answer with the
//! vote they decided, so a restarted member joins the existing leader once a
//! quorum of them agree and the leader itself confirms.

use rand::RngExt;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::core::Core;
use super::message::{Notification, PeerState, Vote, ZabMessage};
use super::quorum::is_quorum;
use super::timers::Timer;
use super::{MemberId, Next};

/// Longest pause between two re-broadcasts, in ticks.
const MAX_RETRY_TICKS: u32 = 8;

/// State of a LOOKING member.
pub(crate) struct Election {
    proposal: Vote,
    /// Notifications of this round (LOOKING members, and others in this round).
    recv: BTreeMap<MemberId, Notification>,
    /// Notifications from members that already decided, any round.
    decided: BTreeMap<MemberId, Notification>,
    retry: Duration,
}

impl Election {
    /// Starts a new round voting for this member; may decide at once (a
    /// single-member ensemble).
    pub(crate) fn start(core: &mut Core, now: Instant) -> (Election, Next) {
        core.round = core.round.saturating_add(1);
        core.timers.clear();
        let mut election = Election {
            proposal: core.self_vote(),
            recv: BTreeMap::new(),
            decided: BTreeMap::new(),
            retry: core.cfg.tick,
        };
        tracing::debug!(id = core.id(), round = core.round, "election started");
        election.record_own(core);
        election.broadcast(core);
        election.arm_retry(core, now);
        let next = election.check_quorum(core, now);
        (election, next)
    }

    fn own(&self, core: &Core) -> Notification {
        Notification {
            vote: self.proposal,
            round: core.round,
            state: PeerState::Looking,
        }
    }

    fn record_own(&mut self, core: &Core) {
        self.recv.insert(core.id(), self.own(core));
    }

    fn broadcast(&self, core: &mut Core) {
        let n = self.own(core);
        for to in core.others() {
            core.send(to, ZabMessage::Vote(n));
        }
    }

    fn arm_retry(&mut self, core: &mut Core, now: Instant) {
        let jitter: f64 = core.rng.random_range(0.8..1.2);
        core.timers
            .set(Timer::Heartbeat, now + self.retry.mul_f64(jitter));
    }

    /// Adopts `vote` as this member's proposal and re-broadcasts it.
    fn adopt(&mut self, core: &mut Core, vote: Vote) {
        self.proposal = vote;
        core.timers.stop(Timer::Finalize);
        self.record_own(core);
        self.broadcast(core);
    }

    /// Handles a notification from another member.
    pub(crate) fn on_vote(
        &mut self,
        core: &mut Core,
        now: Instant,
        from: MemberId,
        n: Notification,
    ) -> Next {
        if from == core.id() || !core.is_voter(from) || !core.is_voter(n.vote.leader) {
            // Observers' votes count for nothing, and nobody votes for one.
            tracing::debug!(from, "vote from or for a non-voter ignored");
            return Next::Stay;
        }
        match n.state {
            PeerState::Looking => self.on_looking(core, now, from, n),
            PeerState::Following | PeerState::Leading => self.on_decided(core, from, n),
        }
    }

    fn on_looking(
        &mut self,
        core: &mut Core,
        now: Instant,
        from: MemberId,
        n: Notification,
    ) -> Next {
        if n.round > core.round {
            core.round = n.round;
            self.recv.clear();
            let own = core.self_vote();
            let best = if n.vote.beats(&own) || core.cfg.is_observer() {
                n.vote
            } else {
                own
            };
            self.adopt(core, best);
        } else if n.round < core.round {
            // A lagging peer: tell it where we are so it catches up.
            core.send(from, ZabMessage::Vote(self.own(core)));
            return Next::Stay;
        } else if n.vote.beats(&self.proposal)
            || (core.cfg.is_observer() && self.proposal.leader == core.id())
        {
            // An observer takes up the voters' choice (its own vote names
            // itself only until it hears one).
            self.adopt(core, n.vote);
        }
        self.recv.insert(from, n);
        self.check_quorum(core, now)
    }

    fn on_decided(&mut self, core: &mut Core, from: MemberId, n: Notification) -> Next {
        if n.round == core.round {
            self.recv.insert(from, n);
            if agree(&self.recv, n.vote, &core.cfg.members) && self.leader_confirmed(core, &n) {
                return decide(core, n.vote);
            }
        }
        self.decided.insert(from, n);
        // Members that joined at different times may report different votes
        // for the same leader (ZooKeeper compares only the leader here too): a
        // quorum naming the leader, and the leader's own word, suffice.
        let leader = n.vote.leader;
        let backers: BTreeSet<MemberId> = self
            .decided
            .iter()
            .filter(|(_, d)| d.vote.leader == leader)
            .map(|(&id, _)| id)
            .collect();
        if !is_quorum(&backers, &core.cfg.members) {
            return Next::Stay;
        }
        if leader == core.id() {
            return if n.round == core.round {
                decide(core, n.vote)
            } else {
                Next::Stay
            };
        }
        match self.decided.get(&leader) {
            Some(l) if l.state == PeerState::Leading => {
                let (vote, round) = (l.vote, l.round);
                core.round = round;
                decide(core, vote)
            }
            _ => Next::Stay,
        }
    }

    /// The leader named in `n` must itself have said, in this round, that it
    /// leads (or, if it is this member, the round must be ours).
    fn leader_confirmed(&self, core: &Core, n: &Notification) -> bool {
        if n.vote.leader == core.id() {
            return n.round == core.round;
        }
        self.recv
            .get(&n.vote.leader)
            .is_some_and(|l| l.state == PeerState::Leading)
    }

    fn check_quorum(&mut self, core: &mut Core, now: Instant) -> Next {
        if !agree(&self.recv, self.proposal, &core.cfg.members) {
            core.timers.stop(Timer::Finalize);
            return Next::Stay;
        }
        // Only voters count: an observer's own notification (it adopts the
        // voters' choice) must not complete "everyone agrees", or an
        // observer that started late decides on the first stale votes in
        // its mailbox, follows a member that does not lead, and waits out
        // initLimit before it looks again.
        let voters_agreeing = self
            .recv
            .iter()
            .filter(|(id, n)| core.cfg.members.contains(id) && n.vote == self.proposal)
            .count();
        if voters_agreeing == core.cfg.members.len() || core.cfg.finalize_ticks == 0 {
            return decide(core, self.proposal);
        }
        if core.timers.get(Timer::Finalize).is_none() {
            core.timers.set(
                Timer::Finalize,
                now + core.cfg.ticks(core.cfg.finalize_ticks),
            );
        }
        Next::Stay
    }

    /// Handles a due timer.
    pub(crate) fn on_timer(&mut self, core: &mut Core, now: Instant, timer: Timer) -> Next {
        match timer {
            Timer::Heartbeat => {
                self.broadcast(core);
                self.retry = self
                    .retry
                    .saturating_mul(2)
                    .min(core.cfg.ticks(MAX_RETRY_TICKS));
                self.arm_retry(core, now);
                Next::Stay
            }
            Timer::Finalize => {
                if agree(&self.recv, self.proposal, &core.cfg.members) {
                    decide(core, self.proposal)
                } else {
                    Next::Stay
                }
            }
            Timer::Deadline => Next::Stay,
        }
    }
}

/// True if the members whose notification holds `vote` form a quorum.
fn agree(votes: &BTreeMap<MemberId, Notification>, vote: Vote, members: &[MemberId]) -> bool {
    let set: BTreeSet<MemberId> = votes
        .iter()
        .filter(|(_, n)| n.vote == vote)
        .map(|(&id, _)| id)
        .collect();
    is_quorum(&set, members)
}

fn decide(core: &mut Core, vote: Vote) -> Next {
    tracing::debug!(
        id = core.id(),
        leader = vote.leader,
        round = core.round,
        "election decided"
    );
    core.decided = Some((vote, core.round));
    core.timers.clear();
    if vote.leader == core.id() {
        Next::Lead
    } else {
        Next::Follow(vote.leader)
    }
}
