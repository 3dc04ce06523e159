//! The replicated state: the data tree, the session table, and the zxid of
//! the last applied transaction; with its snapshot encoding.

use crate::tree::DataTree;
use bytes::{BufMut, Bytes, BytesMut};
use std::collections::BTreeMap;
use std::io;
use zk_client::proto::{DecodeError, Reader};

/// Roughly how much of a snapshot's encoding [`Database::write_snapshot`]
/// hands out at a time.
pub const SNAPSHOT_PIECE: usize = 256 * 1024;

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

    /// A copy of the replicated state that shares the tree's nodes with
    /// this database (see [`DataTree::image`]): cheap to take, and what a
    /// snapshot keeps until it is written or sent.
    pub fn image(&self) -> Database {
        Database {
            tree: self.tree.image(),
            sessions: self.sessions.clone(),
            last_zxid: self.last_zxid,
        }
    }

    /// Length of [`Database::snapshot`]'s encoding.
    pub fn snapshot_len(&self) -> usize {
        8 + 4 + 12 * self.sessions.len() + self.tree.snapshot_len()
    }

    /// Encodes tree, sessions and last zxid.
    pub fn snapshot(&self) -> Bytes {
        let len = self.snapshot_len();
        let mut b = BytesMut::with_capacity(len);
        self.put_header(&mut b);
        self.tree.write_snapshot(&mut b);
        debug_assert_eq!(b.len(), len, "snapshot_len disagrees with the encoding");
        b.freeze()
    }

    /// [`Database::snapshot`]'s encoding handed to `emit` in pieces of
    /// about [`SNAPSHOT_PIECE`] bytes (a file can be written from the tree
    /// without the whole encoding in memory). Stops at `emit`'s first error.
    pub fn write_snapshot(&self, emit: &mut dyn FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        let mut b = BytesMut::with_capacity(SNAPSHOT_PIECE + 4096);
        self.put_header(&mut b);
        self.tree
            .write_snapshot_pieces(&mut b, SNAPSHOT_PIECE, emit)?;
        if b.is_empty() {
            Ok(())
        } else {
            emit(&b)
        }
    }

    fn put_header(&self, b: &mut BytesMut) {
        b.put_i64(self.last_zxid);
        b.put_i32(i32::try_from(self.sessions.len()).unwrap_or(i32::MAX));
        for (id, timeout) in &self.sessions {
            b.put_i64(*id);
            b.put_i32(*timeout);
        }
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
