//! Deterministic simulation of an ensemble for tests: N members in one thread,
//! a simulated clock, a seeded network (per-link FIFO with delay, drops, cuts),
//! model storage (instant or delayed flush, crash keeping or losing it) and a
//! model data tree per member (the sequence of applied entries).
//!
//! Every random choice comes from one seeded RNG, so a seed replays a run.
//! Safety checks run on every output: applied sequences are prefixes of one
//! another, at most one leader is established per epoch, a new leader holds
//! every entry acknowledged to a client, NEWLEADER is acked only after the
//! synced history and epoch are durable, and a snapshot is sent from a tree
//! at exactly its zxid.

mod effects;
mod net;
mod node;

pub(crate) use node::{decode_tree, encode_tree, Node, Store};

use bytes::Bytes;
use rand::rngs::Xoshiro256PlusPlus;
use rand::SeedableRng;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use super::{Member, MemberId, Role, ZabConfig, ZabMessage};
use crate::storage::{Recovered, Snapshot, Zxid};

/// Simulation parameters.
#[derive(Clone, Debug)]
pub(crate) struct ZabHarnessConfig {
    pub tick: Duration,
    pub init_limit: u32,
    pub sync_limit: u32,
    pub diff_retention: usize,
    pub net_delay: (Duration, Duration),
    pub drop_prob: f64,
    pub flush_delay: (Duration, Duration),
}

impl Default for ZabHarnessConfig {
    fn default() -> Self {
        ZabHarnessConfig {
            tick: Duration::from_millis(100),
            init_limit: 10,
            sync_limit: 5,
            diff_retention: 500,
            net_delay: (Duration::from_millis(1), Duration::from_millis(10)),
            drop_prob: 0.0,
            flush_delay: (Duration::ZERO, Duration::from_millis(5)),
        }
    }
}

/// The simulated ensemble.
pub(crate) struct ZabHarness {
    pub seed: u64,
    pub cfg: ZabHarnessConfig,
    pub base: Instant,
    pub now: Instant,
    pub rng: Xoshiro256PlusPlus,
    pub ids: Vec<MemberId>,
    pub nodes: BTreeMap<MemberId, Node>,
    links: BTreeMap<(MemberId, MemberId), VecDeque<(Instant, ZabMessage)>>,
    cut: BTreeSet<(MemberId, MemberId)>,
    /// Messages delivered, by (receiver, kind).
    pub delivered: BTreeMap<(MemberId, &'static str), usize>,
    /// Acknowledgements sent, by sender: ACKs and PINGREPLYs carrying a
    /// durable point (what a leader could count toward a quorum).
    pub acks_sent: BTreeMap<MemberId, usize>,
    /// The one sequence every member's tree must be a prefix of.
    pub global: Vec<(Zxid, Bytes)>,
    /// Entries a serving leader reported committed (acknowledged to clients).
    pub acked: BTreeMap<Zxid, Bytes>,
    /// The member established as leader of each epoch.
    pub leaders: BTreeMap<u32, MemberId>,
    /// Each member's last logged zxid when it last received NEWLEADER.
    nl_target: BTreeMap<MemberId, Zxid>,
    restarts: u64,
    /// The configuration (voters, observers) members start with: the last
    /// one committed anywhere, as ZooKeeper's dynamic config file keeps it.
    pub config: (Vec<MemberId>, Vec<MemberId>),
    /// Reconfigurations proposed, by zxid: what a member adopts when it
    /// commits that entry.
    reconfigs: BTreeMap<Zxid, (Vec<MemberId>, Vec<MemberId>)>,
    /// Print every event (set `ZAB_TRACE=1`).
    trace: bool,
}

impl ZabHarness {
    pub fn new(n: u64, seed: u64, cfg: ZabHarnessConfig) -> ZabHarness {
        ZabHarness::with_stores(n, seed, cfg, |_| Store::default())
    }

    /// A simulation whose members start from the given storage.
    pub fn with_stores(
        n: u64,
        seed: u64,
        cfg: ZabHarnessConfig,
        store: impl FnMut(MemberId) -> Store,
    ) -> ZabHarness {
        ZabHarness::assemble(n, 0, seed, cfg, store)
    }

    /// `n` voters and `spares` non-voting learners (ids after the voters'),
    /// which a reconfiguration may turn into voters.
    pub fn with_spares(n: u64, spares: u64, seed: u64, cfg: ZabHarnessConfig) -> ZabHarness {
        ZabHarness::assemble(n, spares, seed, cfg, |_| Store::default())
    }

    fn assemble(
        n: u64,
        spares: u64,
        seed: u64,
        cfg: ZabHarnessConfig,
        mut store: impl FnMut(MemberId) -> Store,
    ) -> ZabHarness {
        let base = Instant::now();
        let ids: Vec<MemberId> = (1..=n + spares).collect();
        let mut sim = ZabHarness {
            seed,
            cfg,
            base,
            now: base,
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            ids: ids.clone(),
            nodes: BTreeMap::new(),
            links: BTreeMap::new(),
            cut: BTreeSet::new(),
            delivered: BTreeMap::new(),
            acks_sent: BTreeMap::new(),
            global: Vec::new(),
            acked: BTreeMap::new(),
            leaders: BTreeMap::new(),
            nl_target: BTreeMap::new(),
            restarts: 0,
            config: ((1..=n).collect(), (n + 1..=n + spares).collect()),
            reconfigs: BTreeMap::new(),
            trace: std::env::var_os("ZAB_TRACE").is_some(),
        };
        for &id in &ids {
            let flush_delay = sim.cfg.flush_delay;
            sim.nodes.insert(
                id,
                Node {
                    member: None,
                    store: store(id),
                    flushes: VecDeque::new(),
                    tree: Vec::new(),
                    flush_delay,
                    syncs_done: Vec::new(),
                    delivered: Vec::new(),
                },
            );
        }
        for &id in &ids {
            sim.start(id);
        }
        sim
    }

    fn log(&self, what: impl FnOnce() -> String) {
        if self.trace {
            eprintln!("{:>10.3?} {}", self.elapsed(), what());
        }
    }

    /// Simulated time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.base
    }

    fn zab_config(&mut self, id: MemberId) -> ZabConfig {
        self.restarts += 1;
        ZabConfig {
            tick: self.cfg.tick,
            init_limit: self.cfg.init_limit,
            sync_limit: self.cfg.sync_limit,
            diff_retention: self.cfg.diff_retention,
            seed: self.seed.wrapping_mul(1000).wrapping_add(self.restarts),
            observers: self.config.1.clone(),
            ..ZabConfig::new(id, self.config.0.clone())
        }
    }

    /// Starts (or restarts) member `id` from its storage.
    pub fn start(&mut self, id: MemberId) {
        let cfg = self.zab_config(id);
        let node = self.nodes.get_mut(&id).expect("node");
        assert!(node.member.is_none(), "member {id} already running");
        let recovered = Recovered {
            epochs: node.store.epochs,
            snapshot: node.store.snapshot.clone(),
            log: node.store.log.clone(),
        };
        node.tree = node
            .store
            .snapshot
            .as_ref()
            .map(|s| decode_tree(&s.data.to_bytes()))
            .unwrap_or_default();
        node.member = Some(Member::new(cfg, recovered, self.now).expect("config"));
        self.log(|| format!("START {id}"));
        self.drain();
    }

    /// Crashes member `id`: unflushed appends and in-flight messages are lost.
    /// With `wipe`, its storage is lost too.
    pub fn crash(&mut self, id: MemberId, wipe: bool) {
        self.log(|| format!("CRASH {id} wipe={wipe}"));
        let node = self.nodes.get_mut(&id).expect("node");
        node.member = None;
        node.flushes.clear();
        node.tree.clear();
        if wipe {
            node.store = Store::default();
        }
        for ((from, to), q) in self.links.iter_mut() {
            if *from == id || *to == id {
                q.clear();
            }
        }
    }

    pub fn is_up(&self, id: MemberId) -> bool {
        self.nodes[&id].member.is_some()
    }

    /// Saves a snapshot of `id`'s applied tree (as a driver does periodically).
    pub fn take_snapshot(&mut self, id: MemberId) {
        let node = self.nodes.get_mut(&id).expect("node");
        if node.member.is_none() {
            return;
        }
        let zxid = node.tree_zxid();
        node.store.snapshot = Some(Snapshot {
            zxid,
            data: encode_tree(&node.tree).into(),
        });
        node.store.log.retain(|e| e.zxid > zxid);
    }

    /// The serving leader, if exactly one member claims to be one.
    pub fn leader(&self) -> Option<MemberId> {
        let mut serving = self.nodes.iter().filter(|(_, n)| {
            n.member
                .as_ref()
                .is_some_and(|m| m.role() == Role::Leading && m.is_serving())
        });
        let first = serving.next().map(|(&id, _)| id);
        first.filter(|_| serving.next().is_none())
    }

    /// Proposes `payload` at member `id`; the zxid if it accepted.
    pub fn propose_at(&mut self, id: MemberId, payload: &str) -> Option<Zxid> {
        let now = self.now;
        let member = self.nodes.get_mut(&id)?.member.as_mut()?;
        let zxid = member
            .propose(now, Bytes::copy_from_slice(payload.as_bytes()))
            .ok();
        self.drain();
        zxid
    }

    /// Proposes a reconfiguration to (voters, observers) at the serving
    /// leader; members adopt it as they commit it.
    pub fn propose_reconfig(
        &mut self,
        voters: Vec<MemberId>,
        observers: Vec<MemberId>,
    ) -> Option<Zxid> {
        let now = self.now;
        let leader = self.leader()?;
        let member = self.nodes.get_mut(&leader)?.member.as_mut()?;
        let payload = Bytes::from(format!("reconfig {voters:?}"));
        let zxid = member
            .propose_reconfig(now, payload, voters.clone(), observers.clone())
            .ok()?;
        self.reconfigs.insert(zxid, (voters, observers));
        self.drain();
        Some(zxid)
    }

    /// The member adopts the configuration `zxid` installs, if it is one.
    pub(super) fn adopt_if_reconfig(&mut self, id: MemberId, zxid: Zxid) {
        let Some((voters, observers)) = self.reconfigs.get(&zxid).cloned() else {
            return;
        };
        self.config = (voters.clone(), observers.clone());
        let now = self.now;
        if let Some(m) = self.nodes.get_mut(&id).and_then(|n| n.member.as_mut()) {
            m.adopt_config(now, voters, observers);
        }
    }

    /// Proposes at the serving leader.
    pub fn propose(&mut self, payload: &str) -> Option<Zxid> {
        let leader = self.leader()?;
        self.propose_at(leader, payload)
    }

    /// Calls sync on member `id`.
    pub fn sync(&mut self, id: MemberId, token: u64) -> bool {
        let now = self.now;
        let ok = self
            .nodes
            .get_mut(&id)
            .and_then(|n| n.member.as_mut())
            .is_some_and(|m| m.sync(now, token).is_ok());
        self.drain();
        ok
    }

    // ----- running -----

    /// Carries out every pending output of every member.
    pub fn drain(&mut self) {
        loop {
            let mut any = false;
            for id in self.ids.clone() {
                while let Some(out) = self
                    .nodes
                    .get_mut(&id)
                    .and_then(|n| n.member.as_mut())
                    .and_then(Member::poll_output)
                {
                    any = true;
                    self.carry_out(id, out);
                }
            }
            if !any {
                return;
            }
        }
    }

    fn next_event(&self) -> Option<(Instant, Event)> {
        let mut best: Option<(Instant, Event)> = None;
        let mut consider = |t: Instant, e: Event| {
            if best.as_ref().is_none_or(|(bt, _)| t < *bt) {
                best = Some((t, e));
            }
        };
        for (&(from, to), q) in &self.links {
            if let Some(&(t, _)) = q.front() {
                consider(t, Event::Deliver(from, to));
            }
        }
        for (&id, node) in &self.nodes {
            if let Some(f) = node.flushes.front() {
                consider(f.due, Event::Flush(id));
            }
            if let Some(t) = node.member.as_ref().and_then(Member::poll_timeout) {
                consider(t, Event::Timeout(id));
            }
        }
        best
    }

    /// Processes the next event if it is due by `until`; false if none is.
    pub fn step(&mut self, until: Instant) -> bool {
        let Some((t, event)) = self.next_event() else {
            self.now = self.now.max(until);
            return false;
        };
        if t > until {
            self.now = self.now.max(until);
            return false;
        }
        self.now = self.now.max(t);
        let now = self.now;
        match event {
            Event::Deliver(from, to) => {
                let msg = self
                    .links
                    .get_mut(&(from, to))
                    .and_then(VecDeque::pop_front);
                if let (Some((_, msg)), Some(m)) =
                    (msg, self.nodes.get_mut(&to).and_then(|n| n.member.as_mut()))
                {
                    *self.delivered.entry((to, msg.kind())).or_default() += 1;
                    if let ZabMessage::NewLeader { .. } = msg {
                        self.nl_target.insert(to, m.last_logged_zxid());
                    }
                    m.step(now, from, msg);
                }
            }
            Event::Flush(id) => {
                let node = self.nodes.get_mut(&id).expect("node");
                if let Some(f) = node.flushes.pop_front() {
                    node.store.log.extend(f.entries);
                    if let Some(m) = node.member.as_mut() {
                        m.persisted(now, f.report);
                    }
                }
            }
            Event::Timeout(id) => {
                if let Some(m) = self.nodes.get_mut(&id).and_then(|n| n.member.as_mut()) {
                    m.handle_timeout(now);
                }
            }
        }
        self.drain();
        true
    }

    /// Runs for `d` of simulated time.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        while self.step(until) {}
    }

    /// Runs until `pred` holds (checked after every event) or `max` passes.
    pub fn run_until(&mut self, max: Duration, pred: impl Fn(&ZabHarness) -> bool) -> bool {
        let until = self.now + max;
        loop {
            if pred(self) {
                return true;
            }
            if !self.step(until) {
                return pred(self);
            }
        }
    }

    /// Runs until a single serving leader exists and every live member serves.
    pub fn settle(&mut self, max: Duration) -> bool {
        self.run_until(max, |s| {
            s.leader().is_some()
                && s.nodes
                    .values()
                    .all(|n| n.member.as_ref().is_none_or(Member::is_serving))
        })
    }

    /// True if every live member serves and has applied the same entries as the
    /// leader, with the leader's whole log committed.
    pub fn converged(&self) -> bool {
        let Some(l) = self.leader() else { return false };
        let leader = &self.nodes[&l];
        let lm = leader.m();
        lm.last_committed_zxid() == lm.last_logged_zxid()
            && self
                .nodes
                .values()
                .all(|n| n.member.as_ref().is_some_and(|m| m.is_serving()) && n.tree == leader.tree)
    }

    /// Number of messages of `kind` member `to` received.
    pub fn count(&self, to: MemberId, kind: &'static str) -> usize {
        self.delivered.get(&(to, kind)).copied().unwrap_or(0)
    }

    /// Payloads of member `id`'s tree, as strings.
    pub fn payloads(&self, id: MemberId) -> Vec<String> {
        self.nodes[&id]
            .tree
            .iter()
            .map(|(_, p)| String::from_utf8_lossy(p).into_owned())
            .collect()
    }
}

#[derive(Clone, Copy, Debug)]
enum Event {
    Deliver(MemberId, MemberId),
    Flush(MemberId),
    Timeout(MemberId),
}

impl ZabHarness {
    /// One line per member, for failure messages.
    pub fn describe(&self) -> String {
        let mut s = format!("t={:?} seed={}\n", self.elapsed(), self.seed);
        for (id, n) in &self.nodes {
            match &n.member {
                None => s += &format!("  {id}: down store_last={:#x}\n", n.store.last()),
                Some(m) => {
                    s += &format!(
                        "  {id}: {:?} leader={:?} serving={} epochs={:?} logged={:#x} durable={:#x} committed={:#x} tree={} store_last={:#x}\n",
                        m.role(),
                        m.leader(),
                        m.is_serving(),
                        m.epochs(),
                        m.last_logged_zxid(),
                        m.last_durable_zxid(),
                        m.last_committed_zxid(),
                        n.tree.len(),
                        n.store.last()
                    )
                }
            }
        }
        s
    }
}
