//! The two ways a member replicates: standalone ([`Solo`]) or with ZAB
//! ([`crate::zab::Member`]), behind one interface.

use super::solo::Solo;
use crate::storage::{LogEntry, Recovered, Zxid};
use crate::zab::{self, make_zxid, LearnerCounts, MemberId, Output, ZabConfig, ZabMessage};
use bytes::Bytes;
use std::time::Instant;

pub(crate) enum Replication {
    Solo(Solo),
    Zab(Box<zab::Member>),
}

impl Replication {
    pub(crate) fn new(
        config: ZabConfig,
        recovered: Recovered,
        now: Instant,
    ) -> Result<Replication, zab::ConfigError> {
        if config.members.len() == 1 && config.observers.is_empty() {
            config.validate()?;
            Ok(Replication::Solo(Solo::new(config.id, recovered)))
        } else {
            Ok(Replication::Zab(Box::new(zab::Member::new(
                config, recovered, now,
            )?)))
        }
    }

    /// Proposes an entry whose zxid the server chose; false if this member
    /// cannot propose it (not an established leader, or not the next zxid).
    pub(crate) fn propose(&mut self, now: Instant, entry: LogEntry) -> bool {
        match self {
            Replication::Solo(s) => s.propose(entry),
            Replication::Zab(m) => {
                if m.next_zxid() != Some(entry.zxid) {
                    tracing::warn!(
                        zxid = format_args!("{:#x}", entry.zxid),
                        next = ?m.next_zxid(),
                        "prepared zxid is not the leader's next"
                    );
                    return false;
                }
                m.propose(now, entry.payload).is_ok()
            }
        }
    }

    /// Proposes a reconfig entry installing `members` and `observers`; false
    /// as [`Replication::propose`], and always when standalone.
    pub(crate) fn propose_reconfig(
        &mut self,
        now: Instant,
        entry: LogEntry,
        members: Vec<MemberId>,
        observers: Vec<MemberId>,
    ) -> bool {
        match self {
            Replication::Solo(_) => false,
            Replication::Zab(m) => {
                m.next_zxid() == Some(entry.zxid)
                    && m.propose_reconfig(now, entry.payload, members, observers)
                        .is_ok()
            }
        }
    }

    /// Switches to a committed configuration (ZAB only).
    pub(crate) fn adopt_config(
        &mut self,
        now: Instant,
        members: Vec<MemberId>,
        observers: Vec<MemberId>,
    ) {
        if let Replication::Zab(m) = self {
            m.adopt_config(now, members, observers);
        }
    }

    /// Members synced with this leader (itself included); empty unless it
    /// leads; None when standalone.
    pub(crate) fn synced_members(&self) -> Option<Vec<MemberId>> {
        match self {
            Replication::Solo(_) => None,
            Replication::Zab(m) => Some(m.synced_members()),
        }
    }

    /// The zxid after which a newly serving leader hands out zxids.
    pub(crate) fn zxid_base(&self, epoch: u32) -> Zxid {
        match self {
            Replication::Solo(s) => s.last_logged(),
            Replication::Zab(m) => m
                .next_zxid()
                .map_or(make_zxid(epoch, 0), |z| z.saturating_sub(1)),
        }
    }

    pub(crate) fn sync(&mut self, now: Instant, token: u64) -> bool {
        match self {
            Replication::Solo(s) => {
                s.sync(token);
                true
            }
            Replication::Zab(m) => m.sync(now, token).is_ok(),
        }
    }

    pub(crate) fn send_to_leader(&mut self, payload: Bytes) -> bool {
        match self {
            Replication::Solo(_) => false,
            Replication::Zab(m) => m.send_to_leader(payload).is_ok(),
        }
    }

    pub(crate) fn step(&mut self, now: Instant, from: MemberId, msg: ZabMessage) {
        match self {
            Replication::Solo(_) => tracing::debug!(from, "peer message to a standalone server"),
            Replication::Zab(m) => m.step(now, from, msg),
        }
    }

    pub(crate) fn peer_disconnected(&mut self, now: Instant, peer: MemberId) {
        if let Replication::Zab(m) = self {
            m.peer_disconnected(now, peer);
        }
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if let Replication::Zab(m) = self {
            m.handle_timeout(now);
        }
    }

    pub(crate) fn persisted(&mut self, now: Instant, up_to: Zxid) {
        match self {
            Replication::Solo(s) => s.persisted(up_to),
            Replication::Zab(m) => m.persisted(now, up_to),
        }
    }

    pub(crate) fn poll_output(&mut self) -> Option<Output> {
        match self {
            Replication::Solo(s) => s.poll_output(),
            Replication::Zab(m) => m.poll_output(),
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Replication::Solo(_) => None,
            Replication::Zab(m) => m.poll_timeout(),
        }
    }

    pub(crate) fn last_logged_zxid(&self) -> Zxid {
        match self {
            Replication::Solo(s) => s.last_logged(),
            Replication::Zab(m) => m.last_logged_zxid(),
        }
    }

    pub(crate) fn last_committed_zxid(&self) -> Zxid {
        match self {
            Replication::Solo(s) => s.committed(),
            Replication::Zab(m) => m.last_committed_zxid(),
        }
    }

    pub(crate) fn learners(&self) -> Option<LearnerCounts> {
        match self {
            Replication::Solo(_) => None,
            Replication::Zab(m) => m.learners(),
        }
    }
}
