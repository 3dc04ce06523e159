//! Model storage and data tree of one simulated member.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::storage::{Epochs, LogEntry, Snapshot, Zxid};
use crate::zab::{Member, MemberId};

/// Durable state of one member.
#[derive(Clone, Debug, Default)]
pub(crate) struct Store {
    pub epochs: Epochs,
    pub snapshot: Option<Snapshot>,
    pub log: Vec<LogEntry>,
}

impl Store {
    /// The last durable zxid (log tail, else snapshot).
    pub fn last(&self) -> Zxid {
        self.log
            .last()
            .map(|e| e.zxid)
            .or(self.snapshot.as_ref().map(|s| s.zxid))
            .unwrap_or(0)
    }
}

pub(super) struct Flush {
    pub due: Instant,
    pub entries: Vec<LogEntry>,
    pub report: Zxid,
}

/// One simulated member: its machine (None while crashed), storage, tree.
pub(crate) struct Node {
    pub member: Option<Member>,
    pub store: Store,
    pub(super) flushes: VecDeque<Flush>,
    /// Applied entries, in order (the model data tree).
    pub tree: Vec<(Zxid, Bytes)>,
    /// Flush delay range for this member's storage.
    pub flush_delay: (Duration, Duration),
    /// Completed sync tokens.
    pub syncs_done: Vec<u64>,
    /// Application payloads delivered, with sender.
    pub delivered: Vec<(MemberId, Bytes)>,
}

impl Node {
    pub fn m(&self) -> &Member {
        self.member.as_ref().expect("member is down")
    }

    pub fn tree_zxid(&self) -> Zxid {
        self.tree.last().map_or(0, |e| e.0)
    }
}

/// Serializes a model tree: (zxid, length, payload)*.
pub(crate) fn encode_tree(tree: &[(Zxid, Bytes)]) -> Bytes {
    let mut buf = BytesMut::new();
    for (zxid, payload) in tree {
        buf.put_i64(*zxid);
        buf.put_u32(payload.len() as u32);
        buf.put_slice(payload);
    }
    buf.freeze()
}

pub(crate) fn decode_tree(data: &Bytes) -> Vec<(Zxid, Bytes)> {
    let mut data = data.clone();
    let mut tree = Vec::new();
    while data.remaining() >= 12 {
        let zxid = data.get_i64();
        let len = data.get_u32() as usize;
        tree.push((zxid, data.split_to(len)));
    }
    tree
}
