//! A member's state as the checkers see it at quiescence.

use super::MemberMachine;
use crate::check::MemberView;
use crate::tree::NodeKind;

impl MemberMachine {
    /// Zxid, digest, session table and ephemerals (read from the nodes
    /// themselves, not from the per-session index), for
    /// [`crate::check::members`].
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
