//! The `Stat` record: a znode's metadata.

use super::jute::jute_record;

jute_record! {
    /// A znode's metadata, as every stat-returning operation reports it.
    pub struct Stat {
        /// Zxid of the transaction that created the node.
        pub czxid: i64,
        /// Zxid of the transaction that last changed the node's data.
        pub mzxid: i64,
        /// Creation time, milliseconds since the epoch (leader's clock).
        pub ctime: i64,
        /// Last data change time, milliseconds since the epoch.
        pub mtime: i64,
        /// Number of data changes.
        pub version: i32,
        /// Child-list version as reported to clients.
        pub cversion: i32,
        /// Number of ACL changes.
        pub aversion: i32,
        /// Owning session for ephemeral nodes, 0 otherwise.
        pub ephemeral_owner: i64,
        /// Length of the node's data.
        pub data_length: i32,
        /// Number of children.
        pub num_children: i32,
        /// Zxid of the last change to the child list.
        pub pzxid: i64,
    }
}

impl Stat {
    /// Encoded size of a stat (fixed).
    pub const ENCODED_LEN: usize = 68;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::jute::Record;

    #[test]
    fn stat_is_68_bytes_and_round_trips() {
        let s = Stat {
            czxid: 1,
            mzxid: 2,
            ctime: 3,
            mtime: 4,
            version: 5,
            cversion: 6,
            aversion: 7,
            ephemeral_owner: 8,
            data_length: 9,
            num_children: 10,
            pzxid: 11,
        };
        let b = s.to_bytes();
        assert_eq!(b.len(), Stat::ENCODED_LEN);
        assert_eq!(&b[..8], &1i64.to_be_bytes());
        assert_eq!(&b[60..], &11i64.to_be_bytes());
        assert_eq!(Stat::from_bytes(b).unwrap(), s);
    }
}
