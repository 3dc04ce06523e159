//! Network faults and message sending of the simulation.

use rand::RngExt;

use super::ZabHarness;
use crate::zab::{MemberId, ZabMessage};

impl ZabHarness {
    /// Cuts every link between different groups (members in no group are isolated).
    pub fn partition(&mut self, groups: &[&[MemberId]]) {
        self.log(|| format!("PARTITION {groups:?}"));
        let group_of = |id: MemberId| {
            groups
                .iter()
                .position(|g| g.contains(&id))
                .map_or(usize::MAX - id as usize, |g| g)
        };
        for &a in &self.ids.clone() {
            for &b in &self.ids.clone() {
                if a != b && group_of(a) != group_of(b) {
                    self.cut_one_way(a, b);
                }
            }
        }
    }

    /// Cuts the link from `from` to `to` (messages in flight are lost).
    pub fn cut_one_way(&mut self, from: MemberId, to: MemberId) {
        self.log(|| format!("CUT {from}->{to}"));
        self.cut.insert((from, to));
        if let Some(q) = self.links.get_mut(&(from, to)) {
            q.clear();
        }
    }

    /// Isolates `id` from everyone.
    pub fn isolate(&mut self, id: MemberId) {
        for other in self.ids.clone() {
            if other != id {
                self.cut_one_way(id, other);
                self.cut_one_way(other, id);
            }
        }
    }

    /// Restores every link.
    pub fn heal(&mut self) {
        self.log(|| "HEAL".to_string());
        self.cut.clear();
    }

    /// Queues `msg` on the link from `from` to `to` as if `from` sent it.
    pub fn forge(&mut self, from: MemberId, to: MemberId, msg: ZabMessage) {
        self.send(from, to, msg);
    }

    pub(super) fn send(&mut self, from: MemberId, to: MemberId, msg: ZabMessage) {
        if matches!(
            msg,
            ZabMessage::Ack(_) | ZabMessage::PingReply { acked: 1.. }
        ) {
            *self.acks_sent.entry(from).or_default() += 1;
        }
        if self.cut.contains(&(from, to)) || !self.nodes.contains_key(&to) {
            return;
        }
        if self.cfg.drop_prob > 0.0 && self.rng.random_bool(self.cfg.drop_prob) {
            return;
        }
        let (lo, hi) = self.cfg.net_delay;
        let delay = if hi > lo {
            self.rng.random_range(lo..=hi)
        } else {
            lo
        };
        let q = self.links.entry((from, to)).or_default();
        let at = q
            .back()
            .map_or(self.now + delay, |&(t, _)| t.max(self.now + delay));
        q.push_back((at, msg));
    }

    // ----- client operations -----
}
