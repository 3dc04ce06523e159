//! The replicated state: the data tree, the session table, and the zxid of
//! the last applied transaction; with its snapshot encoding.

use crate::tree::DataTree;
use bytes::{BufMut, Bytes, BytesMut};
use std::collections::BTreeMap;
use zk_client::proto::{DecodeError, Reader};

/// What every member holds identically after applying the same log.
#[derive(Debug, Clone, Default)]
pub struct Database {
    /// The znodes (and this server's watches).
    pub tree: DataTree,
    /// Live sessions and their negotiated timeouts (ms).
    pub sessions: BTreeMap<i64, i32>,
    /// Zxid of the last applied transaction.
    pub last_zxid: i64,
}

impl Database {
    /// The digest of the data tree (equal on members that applied the same log).
    pub fn digest(&self) -> u64 {
        self.tree.digest()
    }

    /// Encodes tree, sessions and last zxid.
    pub fn snapshot(&self) -> Bytes {
        let len = 8 + 4 + 12 * self.sessions.len() + self.tree.snapshot_len();
        let mut b = BytesMut::with_capacity(len);
        b.put_i64(self.last_zxid);
        b.put_i32(i32::try_from(self.sessions.len()).unwrap_or(i32::MAX));
        for (id, timeout) in &self.sessions {
            b.put_i64(*id);
            b.put_i32(*timeout);
        }
        self.tree.write_snapshot(&mut b);
        debug_assert_eq!(b.len(), len, "snapshot_len disagrees with the encoding");
        b.freeze()
    }

    /// Decodes a snapshot made by [`Database::snapshot`].
    pub fn from_snapshot(bytes: Bytes) -> Result<Database, DecodeError> {
        let mut r = Reader::new(bytes);
        let last_zxid = r.read_i64()?;
        let n = r.read_i32()?;
        let mut sessions = BTreeMap::new();
        for _ in 0..n.max(0) {
            let id = r.read_i64()?;
            sessions.insert(id, r.read_i32()?);
        }
        let tree = DataTree::read_snapshot(&mut r)?;
        r.finish()?;
        Ok(Database {
            tree,
            sessions,
            last_zxid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_round_trip() {
        let mut db = Database::default();
        db.sessions.insert(0x0100_0000_0000_0001, 4000);
        db.last_zxid = 42;
        let back = Database::from_snapshot(db.snapshot()).unwrap();
        assert_eq!(back.sessions, db.sessions);
        assert_eq!(back.last_zxid, 42);
        assert_eq!(back.digest(), db.digest());
        assert!(Database::from_snapshot(Bytes::from_static(&[0; 5])).is_err());
    }
}
