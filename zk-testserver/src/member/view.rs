//! A member's state as the checkers see it at quiescence.

use super::MemberMachine;
use crate::tree::NodeKind;
use std::collections::{BTreeMap, BTreeSet};

/// One member's state at quiescence ([`crate::Ensemble::view`]): what
/// the checkers compare across members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberView {
    /// The member.
    pub id: u64,
    /// Zxid of its last applied transaction.
    pub last_zxid: i64,
    /// Digest of its data tree.
    pub digest: u64,
    /// Its replicated session table.
    pub sessions: BTreeSet<i64>,
    /// Its ephemeral nodes with their owners.
    pub ephemerals: BTreeMap<String, i64>,
}

impl MemberMachine {
    /// Zxid, digest, session table and ephemerals (read from the nodes
    /// themselves, not from the per-session index), for the checkers of
    /// `check::members`.
    pub fn view(&self) -> MemberView {
        let db = self.server.database();
        let ephemerals = db
            .tree
            .paths()
            .into_iter()
            .filter_map(|p| match db.tree.get(&p).map(|n| n.kind()) {
                Some(NodeKind::Ephemeral(owner)) => Some((p, owner)),
                _ => None,
            })
            .collect();
        MemberView {
            id: self.id,
            last_zxid: self.last_zxid(),
            digest: self.digest(),
            sessions: db.sessions.keys().copied().collect(),
            ephemerals,
        }
    }
}
