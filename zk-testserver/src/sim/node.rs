//! Simulated members: a member machine, its `MemoryStorage` with delayed
//! flushes, crashes (losing the unflushed tail, or everything when wiped)
//! and restarts.

use super::world::{Event, Sim};
use crate::failpoint::Failpoints;
use crate::member::{Effect, MemberConfig, MemberMachine};
use crate::server::{ConnId, ConnOutput, ServerConfig};
use crate::storage::{MemoryStorage, Storage, Zxid};
use crate::zab::MemberId;
use rand::RngExt;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};
use zk_client::proto::FrameDecoder;

/// One simulated member.
pub struct Node {
    /// Its id (1-based).
    pub id: MemberId,
    /// The running machine; None while down.
    pub machine: Option<MemberMachine>,
    /// Its disk.
    pub storage: MemoryStorage,
    /// Bumped at every crash, so messages to a dead incarnation are dropped.
    pub incarnation: u64,
    /// Appends waiting for their flush: (due, last zxid of the append).
    flushes: VecDeque<(Instant, Zxid)>,
    /// A failpoint or a fault paused it until then.
    pub paused_until: Option<Instant>,
    /// Longest flush delay of its disk.
    pub flush_delay: Duration,
    /// Failpoints to arm at its next start.
    pub arm_on_start: Failpoints,
    /// Framing of the bytes each client connection sent it.
    pub(super) decoders: BTreeMap<ConnId, FrameDecoder>,
    /// How many times it started.
    starts: u64,
}

impl Node {
    pub(super) fn new(id: MemberId, flush_delay: Duration) -> Node {
        Node {
            id,
            machine: None,
            storage: MemoryStorage::new(),
            incarnation: 0,
            flushes: VecDeque::new(),
            paused_until: None,
            flush_delay,
            arm_on_start: Failpoints::default(),
            decoders: BTreeMap::new(),
            starts: 0,
        }
    }

    /// Whether the member runs (and did not crash at a failpoint).
    pub fn is_up(&self) -> bool {
        self.machine.as_ref().is_some_and(|m| !m.is_crashed())
    }

    /// Whether it runs and is not paused.
    pub fn is_active(&self) -> bool {
        self.is_up() && self.paused_until.is_none()
    }
}

impl Sim {
    fn member_config(&self, id: MemberId, start: u64) -> MemberConfig {
        let ids: Vec<MemberId> = (1..=self.cfg.members as u64).collect();
        let tick_ms = u64::try_from(self.cfg.tick.as_millis()).unwrap_or(100);
        let mut server = ServerConfig::with_tick(tick_ms);
        // Session passwords follow from the run's seed, so a run replays.
        server.secret = self.cfg.seed.wrapping_mul(0xa076_1d64_78bd_642f) ^ 0x5345_5353;
        let mut c = MemberConfig::new(id, ids, server);
        c.zab.observers = self.cfg.observer_ids();
        c.zab.tick = self.cfg.tick;
        c.zab.init_limit = self.cfg.init_limit;
        c.zab.sync_limit = self.cfg.sync_limit;
        c.zab.diff_retention = self.cfg.diff_retention;
        c.zab.seed = self
            .cfg
            .seed
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .wrapping_add(id.wrapping_mul(1_000_003))
            .wrapping_add(start);
        c.snapshot_every = self.cfg.snapshot_every;
        c
    }

    /// Starts member `id` from its storage.
    pub(super) fn start_member(&mut self, id: MemberId) {
        let i = (id - 1) as usize;
        if self.nodes[i].machine.is_some() {
            return;
        }
        let start = self.nodes[i].starts;
        let mut config = self.member_config(id, start);
        config.failpoints = std::mem::take(&mut self.nodes[i].arm_on_start);
        let wall = self.wall_ms();
        let now = self.now;
        let node = &mut self.nodes[i];
        node.starts += 1;
        let recovered = match node.storage.recover() {
            Ok(r) => r,
            Err(e) => {
                self.anomaly(format!("member {id}: storage recovery failed: {e}"));
                return;
            }
        };
        match MemberMachine::new(config, recovered, now, wall) {
            Ok(m) => node.machine = Some(m),
            Err(e) => self.anomaly(format!("member {id}: cannot start: {e}")),
        }
        self.log_event(format_args!("START {id}"), &[]);
    }

    /// Crashes member `id`: its unflushed appends are lost (everything if
    /// `wipe`), its connections reset, its peers see the reset.
    pub(super) fn crash_member(&mut self, id: MemberId, wipe: bool) {
        let i = (id - 1) as usize;
        self.log_event(format_args!("CRASH {id} wipe={wipe}"), &[]);
        let node = &mut self.nodes[i];
        let was_up = node.machine.take().is_some();
        node.storage.crash();
        if wipe {
            node.storage = MemoryStorage::new();
        }
        node.incarnation += 1;
        node.flushes.clear();
        node.paused_until = None;
        node.decoders.clear();
        if !was_up {
            return;
        }
        let conns: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.member == id && !c.closed_at_member)
            .map(|(id, _)| *id)
            .collect();
        for conn in conns {
            self.member_closed_conn(conn, false);
        }
        for p in self.cfg.ids() {
            if p != id {
                let incarnation = self.nodes[(p - 1) as usize].incarnation;
                self.send_link(
                    id,
                    p,
                    Event::PeerReset {
                        from: id,
                        to: p,
                        incarnation,
                    },
                );
            }
        }
    }

    /// Carries out member `id`'s effects and client outputs; true if any.
    pub(super) fn drain_member(&mut self, id: MemberId) -> bool {
        let i = (id - 1) as usize;
        let mut busy = false;
        loop {
            // A machine that crashed at a failpoint still hands out the
            // effects before its crash (the crash effect comes last).
            if self.nodes[i].paused_until.is_some() {
                return busy;
            }
            let Some(effect) = self.nodes[i].machine.as_mut().and_then(|m| m.poll_effect()) else {
                break;
            };
            busy = true;
            self.effect(id, effect);
        }
        loop {
            if !self.nodes[i].is_active() {
                return busy;
            }
            let Some((conn, out)) = self.nodes[i].machine.as_mut().and_then(|m| m.poll_client())
            else {
                break;
            };
            busy = true;
            match out {
                ConnOutput::Frame(bytes) => self.send_to_client(conn, bytes),
                ConnOutput::Close => self.member_closed_conn(conn, true),
            }
        }
        busy
    }

    fn effect(&mut self, id: MemberId, effect: Effect) {
        let i = (id - 1) as usize;
        let result = match effect {
            Effect::Send { to, msg } => {
                self.send_peer(id, to, msg);
                Ok(())
            }
            Effect::Append(entries) => {
                let r = self.nodes[i].storage.append(&entries);
                if let (Ok(()), Some(last)) = (&r, entries.last()) {
                    self.schedule_flush(id, last.zxid);
                }
                r
            }
            Effect::Truncate(z) => self.nodes[i].storage.truncate_after(z),
            Effect::SaveEpochs(e) => self.nodes[i].storage.save_epochs(e),
            Effect::SaveSnapshot(s) => self.nodes[i].storage.save_snapshot(&s),
            Effect::InstallSnapshot(s) => self.nodes[i].storage.install_snapshot(&s),
            Effect::Halt(reason) => {
                self.log_event(format_args!("HALT {id} {reason}"), &[]);
                self.crash_member(id, false);
                Ok(())
            }
            Effect::Crash(point) => {
                self.log_event(format_args!("FAILPOINT {id} {point} crash"), &[]);
                self.crash_member(id, false);
                Ok(())
            }
            Effect::Pause {
                failpoint,
                duration,
            } => {
                self.log_event(format_args!("FAILPOINT {id} {failpoint} pause"), &[]);
                self.pause_member(id, duration);
                Ok(())
            }
        };
        if let Err(e) = result {
            self.anomaly(format!("member {id}: storage refused an effect: {e}"));
            self.crash_member(id, false);
        }
    }

    fn schedule_flush(&mut self, id: MemberId, zxid: Zxid) {
        let i = (id - 1) as usize;
        let max = u64::try_from(self.nodes[i].flush_delay.as_micros()).unwrap_or(0);
        let delay = Duration::from_micros(if max > 0 {
            self.rng.random_range(0..=max)
        } else {
            0
        });
        let node = &mut self.nodes[i];
        let due = node
            .flushes
            .back()
            .map_or(self.now + delay, |(d, _)| (*d).max(self.now + delay));
        node.flushes.push_back((due, zxid));
        let incarnation = node.incarnation;
        self.schedule(
            due,
            Event::Flush {
                member: id,
                incarnation,
            },
        );
    }

    /// A flush completed: everything appended so far is durable; reports
    /// the appends whose flush was due.
    pub(super) fn flushed(&mut self, id: MemberId) {
        let i = (id - 1) as usize;
        let now = self.now;
        let node = &mut self.nodes[i];
        let mut reports = Vec::new();
        while node.flushes.front().is_some_and(|(d, _)| *d <= now) {
            if let Some((_, z)) = node.flushes.pop_front() {
                reports.push(z);
            }
        }
        if reports.is_empty() {
            return;
        }
        if let Err(e) = node.storage.flush() {
            self.anomaly(format!("member {id}: flush failed: {e}"));
            return;
        }
        if let Some(m) = node.machine.as_mut() {
            for z in reports {
                m.persisted(now, z);
            }
        }
    }

    /// Stalls member `id` for `d` (nothing reaches it, it does nothing).
    pub(super) fn pause_member(&mut self, id: MemberId, d: Duration) {
        let i = (id - 1) as usize;
        let until = self.now + d;
        let node = &mut self.nodes[i];
        let until = node.paused_until.map_or(until, |u| u.max(until));
        node.paused_until = Some(until);
        let incarnation = node.incarnation;
        self.schedule(
            until,
            Event::Resume {
                member: id,
                incarnation,
            },
        );
    }
}
