//! A deterministic, single-threaded driver for a few member machines: a
//! simulated clock, FIFO in-memory links with a drop filter, in-memory
//! storage flushed at once, and raw client connections.

use crate::member::{Effect, MemberConfig, MemberMachine};
use crate::server::{ConnOutput, ServerConfig};
use crate::storage::{MemoryStorage, Storage};
use crate::zab::{MemberId, ZabMessage};
use bytes::Bytes;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub const TICK: Duration = Duration::from_millis(50);

/// Decides whether a message from → to is delivered.
pub type Filter = Box<dyn FnMut(MemberId, MemberId, &ZabMessage) -> bool>;

pub struct Cluster {
    pub now: Instant,
    pub members: BTreeMap<MemberId, MemberMachine>,
    pub stores: BTreeMap<MemberId, MemoryStorage>,
    links: VecDeque<(MemberId, MemberId, ZabMessage)>,
    /// Client outputs by (member, connection).
    pub client_out: BTreeMap<(MemberId, u64), Vec<ConnOutput>>,
    pub filter: Filter,
}

pub fn peer() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

impl Cluster {
    pub fn new(n: u64) -> Cluster {
        let now = Instant::now();
        let ids: Vec<MemberId> = (1..=n).collect();
        let mut c = Cluster {
            now,
            members: BTreeMap::new(),
            stores: BTreeMap::new(),
            links: VecDeque::new(),
            client_out: BTreeMap::new(),
            filter: Box::new(|_, _, _| true),
        };
        for &id in &ids {
            let store = MemoryStorage::new();
            let mut config = MemberConfig::new(id, ids.clone(), ServerConfig::with_tick(50));
            config.zab.tick = TICK;
            let m = MemberMachine::new(config, Default::default(), now, 1_700_000_000_000)
                .expect("member");
            c.members.insert(id, m);
            c.stores.insert(id, store);
        }
        c.settle();
        c
    }

    /// Carries out effects and delivers messages until nothing moves.
    pub fn settle(&mut self) {
        loop {
            let mut busy = false;
            let ids: Vec<MemberId> = self.members.keys().copied().collect();
            for id in ids {
                busy |= self.drain(id);
            }
            if let Some((from, to, msg)) = self.links.pop_front() {
                busy = true;
                if (self.filter)(from, to, &msg) {
                    let now = self.now;
                    if let Some(m) = self.members.get_mut(&to) {
                        m.handle_peer_message(now, from, msg);
                    }
                }
            }
            if !busy {
                return;
            }
        }
    }

    fn drain(&mut self, id: MemberId) -> bool {
        let mut busy = false;
        let now = self.now;
        loop {
            let Some(m) = self.members.get_mut(&id) else {
                return busy;
            };
            let mut appended = None;
            while let Some(e) = m.poll_effect() {
                busy = true;
                let store = self.stores.get_mut(&id).expect("store");
                match e {
                    Effect::Send { to, msg } => self.links.push_back((id, to, msg)),
                    Effect::Append(entries) => {
                        store.append(&entries).expect("append");
                        appended = entries.last().map(|e| e.zxid).or(appended);
                    }
                    Effect::Truncate(z) => store.truncate_after(z).expect("truncate"),
                    Effect::SaveEpochs(e) => store.save_epochs(e).expect("epochs"),
                    Effect::SaveSnapshot(s) => store.save_snapshot(&s).expect("snapshot"),
                    Effect::InstallSnapshot(s) => store.install_snapshot(&s).expect("install"),
                    Effect::Halt(reason) => panic!("member {id} halted: {reason}"),
                    // The machine itself takes no input after a crash.
                    Effect::Crash(_) => {}
                    Effect::Pause { .. } => {}
                }
            }
            while let Some((conn, out)) = m.poll_client() {
                busy = true;
                self.client_out.entry((id, conn)).or_default().push(out);
            }
            match appended {
                Some(z) => {
                    self.stores
                        .get_mut(&id)
                        .expect("store")
                        .flush()
                        .expect("flush");
                    m.persisted(now, z);
                }
                None => return busy,
            }
        }
    }

    /// Advances the clock by `d`, firing every timer on the way.
    pub fn advance(&mut self, d: Duration) {
        let until = self.now + d;
        loop {
            let next = self
                .members
                .values()
                .filter_map(MemberMachine::poll_timeout)
                .min();
            match next {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    let now = self.now;
                    for m in self.members.values_mut() {
                        if m.poll_timeout().is_some_and(|t| t <= now) {
                            m.handle_timeout(now);
                        }
                    }
                    self.settle();
                }
                _ => {
                    self.now = until;
                    return;
                }
            }
        }
    }

    pub fn leader(&self) -> Option<MemberId> {
        self.members
            .iter()
            .find(|(_, m)| m.status().role == crate::zab::Role::Leading && m.status().serving)
            .map(|(id, _)| *id)
    }

    pub fn open(&mut self, member: MemberId, conn: u64) {
        self.members
            .get_mut(&member)
            .expect("member")
            .handle_client_open(conn, peer());
    }

    /// Sends a frame (with its length prefix, as encoded) and settles.
    pub fn frame(&mut self, member: MemberId, conn: u64, frame: Bytes) {
        let now = self.now;
        self.members
            .get_mut(&member)
            .expect("member")
            .handle_client_frame(now, conn, frame.slice(4..));
        self.settle();
    }

    /// Takes the outputs sent to a connection so far.
    pub fn take(&mut self, member: MemberId, conn: u64) -> Vec<ConnOutput> {
        self.client_out.remove(&(member, conn)).unwrap_or_default()
    }
}
