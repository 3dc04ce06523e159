//! What a snapshot holds: its encoding, or a frozen image of a member's
//! database that is encoded only when written to a file or sent.

use crate::server::Database;
use bytes::Bytes;
use std::io;
use std::sync::Arc;
use zk_client::proto::DecodeError;

/// The content of a [`Snapshot`](super::Snapshot).
///
/// A member that takes a snapshot of its own tree hands storage an
/// [`SnapshotData::Image`]: a copy of the database that shares every
/// unchanged node with the live tree (see [`Database::image`]). The
/// in-memory store keeps just that, so a snapshot costs little memory
/// beyond the nodes changed since; the directory store encodes it straight
/// into the file, piece by piece. Snapshots read from a file or received
/// from a leader arrive as [`SnapshotData::Encoded`].
#[derive(Clone)]
pub enum SnapshotData {
    /// The encoding of [`Database::snapshot`].
    Encoded(Bytes),
    /// A frozen copy of the database, encoded on demand.
    Image(Arc<Database>),
}

impl SnapshotData {
    /// A frozen image of `db` (cheap: nodes are shared, see [`Database::image`]).
    pub fn image_of(db: &Database) -> SnapshotData {
        SnapshotData::Image(Arc::new(db.image()))
    }

    /// Length of the encoding.
    pub fn encoded_len(&self) -> usize {
        match self {
            SnapshotData::Encoded(b) => b.len(),
            SnapshotData::Image(db) => db.snapshot_len(),
        }
    }

    /// Hands the encoding to `emit` in order, in one or more pieces.
    pub fn write_encoded(&self, emit: &mut dyn FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        match self {
            SnapshotData::Encoded(b) => emit(b),
            SnapshotData::Image(db) => db.write_snapshot(emit),
        }
    }

    /// The whole encoding in one buffer.
    pub fn to_bytes(&self) -> Bytes {
        match self {
            SnapshotData::Encoded(b) => b.clone(),
            SnapshotData::Image(db) => db.snapshot(),
        }
    }

    /// A database to run on: decoded, or a fresh copy of the image (which
    /// stays as it is while the copy changes).
    pub fn to_database(&self) -> Result<Database, DecodeError> {
        match self {
            SnapshotData::Encoded(b) => Database::from_snapshot(b.clone()),
            SnapshotData::Image(db) => Ok(db.image()),
        }
    }
}

impl From<Bytes> for SnapshotData {
    fn from(b: Bytes) -> SnapshotData {
        SnapshotData::Encoded(b)
    }
}

/// Equal when the encodings are (a test aid: an image is encoded to compare).
impl PartialEq for SnapshotData {
    fn eq(&self, other: &SnapshotData) -> bool {
        match (self, other) {
            (SnapshotData::Encoded(a), SnapshotData::Encoded(b)) => a == b,
            _ => self.to_bytes() == other.to_bytes(),
        }
    }
}

impl Eq for SnapshotData {}

impl std::fmt::Debug for SnapshotData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SnapshotData::Encoded(b) => write!(f, "Encoded({} bytes)", b.len()),
            SnapshotData::Image(db) => write!(
                f,
                "Image(zxid {:#x}, {} nodes)",
                db.last_zxid,
                db.tree.node_count()
            ),
        }
    }
}
