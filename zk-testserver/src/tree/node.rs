//! One znode: data, ACL, stored stat fields and children.

use super::children::Children;
pub use super::children::CHILDREN_INITIAL_CAPACITY;
use bytes::Bytes;
use std::sync::Arc;
use zk_client::proto::{Acl, Stat};

/// An ACL as nodes hold it: shared, since most nodes have one of a few ACLs
/// (the tree interns them, as ZooKeeper's reference-counted ACL cache does).
/// A thin pointer, to keep nodes small.
pub type Acls = Arc<Vec<Acl>>;

/// Stored `ephemeralOwner` marking a container node.
pub const CONTAINER_OWNER: i64 = i64::MIN;
/// High byte of a stored `ephemeralOwner` marking a TTL node (low 56 bits = ttl ms).
pub const TTL_OWNER_MASK: i64 = 0xFF00_0000_0000_0000_u64 as i64;

/// What kind of node this is; decides its lifetime and the stored `ephemeralOwner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// Lives until deleted.
    Persistent,
    /// Deleted when the owning session ends.
    Ephemeral(i64),
    /// Deleted by the server when it had children and has none left.
    Container,
    /// Deleted by the server when childless and unmodified for the TTL (ms).
    Ttl(i64),
}

impl NodeKind {
    /// The `ephemeralOwner` as ZooKeeper stores it (container and TTL markers included).
    pub fn stored_owner(self) -> i64 {
        match self {
            NodeKind::Persistent => 0,
            NodeKind::Ephemeral(session) => session,
            NodeKind::Container => CONTAINER_OWNER,
            NodeKind::Ttl(ttl) => TTL_OWNER_MASK | (ttl & !TTL_OWNER_MASK),
        }
    }

    /// The `ephemeralOwner` clients see: the session for true ephemerals, else 0.
    pub fn visible_owner(self) -> i64 {
        match self {
            NodeKind::Ephemeral(session) => session,
            _ => 0,
        }
    }

    /// Decodes a stored owner (the snapshot and transaction encodings use it).
    pub fn from_stored_owner(owner: i64) -> NodeKind {
        if owner == 0 {
            NodeKind::Persistent
        } else if owner == CONTAINER_OWNER {
            NodeKind::Container
        } else if owner & TTL_OWNER_MASK == TTL_OWNER_MASK {
            NodeKind::Ttl(owner & !TTL_OWNER_MASK)
        } else {
            NodeKind::Ephemeral(owner)
        }
    }
}

/// A znode. `cversion` is stored as ZooKeeper stores it: the number of child
/// creations; [`Node::stat`] turns it into the client-visible value.
#[derive(Debug, Clone)]
pub struct Node {
    /// The data (`None` when created with null data).
    pub data: Option<Bytes>,
    /// The ACL (already expanded: no `auth` entries).
    pub acl: Acls,
    /// The stored `ephemeralOwner`, which encodes the [`NodeKind`] (as
    /// ZooKeeper stores it; see [`Node::kind`]).
    owner: i64,
    /// Creating transaction.
    pub czxid: i64,
    /// Last data-changing transaction.
    pub mzxid: i64,
    /// Last child-list change.
    pub pzxid: i64,
    /// Creation time (ms since the epoch, from the transaction).
    pub ctime: i64,
    /// Last data change time.
    pub mtime: i64,
    /// Data version.
    pub version: i32,
    /// Stored child version: +1 per child creation.
    pub cversion: i32,
    /// ACL version.
    pub aversion: i32,
    /// Child names and their nodes.
    pub children: Children,
}

impl Node {
    /// A fresh node created by transaction `zxid` at `time`.
    pub fn new(data: Option<Bytes>, acl: Acls, kind: NodeKind, zxid: i64, time: i64) -> Node {
        Node {
            data,
            acl,
            owner: kind.stored_owner(),
            czxid: zxid,
            mzxid: zxid,
            pzxid: zxid,
            ctime: time,
            mtime: time,
            version: 0,
            cversion: 0,
            aversion: 0,
            children: Children::new(),
        }
    }

    /// Lifetime kind.
    pub fn kind(&self) -> NodeKind {
        NodeKind::from_stored_owner(self.owner)
    }

    /// The `ephemeralOwner` as stored (see [`NodeKind::stored_owner`]).
    pub fn owner(&self) -> i64 {
        self.owner
    }

    /// Length of the data.
    pub fn data_len(&self) -> i32 {
        i32::try_from(self.data_size()).unwrap_or(i32::MAX)
    }

    /// Bytes of data (none counts 0).
    pub fn data_size(&self) -> usize {
        self.data.as_ref().map_or(0, Bytes::len)
    }

    /// Number of children.
    pub fn num_children(&self) -> i32 {
        i32::try_from(self.children.len()).unwrap_or(i32::MAX)
    }

    /// The stat as clients see it: cversion = stored × 2 − children, and
    /// ephemeralOwner 0 for containers and TTL nodes.
    pub fn stat(&self) -> Stat {
        Stat {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self
                .cversion
                .wrapping_mul(2)
                .wrapping_sub(self.num_children()),
            aversion: self.aversion,
            ephemeral_owner: self.kind().visible_owner(),
            data_length: self.data_len(),
            num_children: self.num_children(),
            pzxid: self.pzxid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_encoding_round_trips() {
        for kind in [
            NodeKind::Persistent,
            NodeKind::Ephemeral(0x0100_0000_0000_0001),
            NodeKind::Container,
            NodeKind::Ttl(1000),
        ] {
            assert_eq!(NodeKind::from_stored_owner(kind.stored_owner()), kind);
        }
        assert_eq!(NodeKind::Container.visible_owner(), 0);
        assert_eq!(NodeKind::Ttl(5).stored_owner(), TTL_OWNER_MASK | 5);
    }

    #[test]
    fn visible_cversion() {
        let mut n = Node::new(None, Arc::default(), NodeKind::Persistent, 1, 0);
        n.cversion = 3;
        n.children.insert("a", 1);
        assert_eq!(n.stat().cversion, 5);
        assert_eq!(n.stat().num_children, 1);
    }
}
