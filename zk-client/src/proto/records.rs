//! Headers and the request/response records of every operation.

use super::acl::{Acl, ClientInfo};
use super::jute::{jute_record, DecodeError, JuteWrite, Reader, Record};
use super::stat::Stat;
use bytes::{BufMut, Bytes, BytesMut};

jute_record! {
    /// Precedes every request after the handshake.
    pub struct RequestHeader {
        /// Request id, echoed in the reply (special values in [`super::opcode::xid`]).
        pub xid: i32,
        /// An [`super::OpCode`] code.
        pub op: i32,
    }
}

jute_record! {
    /// Precedes every reply and notification.
    pub struct ReplyHeader {
        /// The request's xid (or a special xid).
        pub xid: i32,
        /// The server's last applied zxid (for a write, the write's zxid).
        pub zxid: i64,
        /// An [`super::ErrorCode`] code; on error no body follows.
        pub err: i32,
    }
}

/// Authentication data for a scheme (xid -4). Its `Debug` output hides the
/// credentials.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct AuthPacket {
    /// Always 0.
    pub auth_type: i32,
    /// The scheme, for example `digest`.
    pub scheme: String,
    /// Scheme-specific credentials (for digest `user:password`). Never logged.
    pub auth: Bytes,
}

impl std::fmt::Debug for AuthPacket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthPacket")
            .field("auth_type", &self.auth_type)
            .field("scheme", &self.scheme)
            .field("auth", &"<redacted>")
            .finish()
    }
}

impl Record for AuthPacket {
    fn write(&self, buf: &mut BytesMut) {
        buf.put_i32(self.auth_type);
        buf.put_jute_string(&self.scheme);
        buf.put_jute_buffer(Some(&self.auth));
    }
    fn read(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(AuthPacket {
            auth_type: r.read_i32()?,
            scheme: r.read_string()?,
            auth: r.read_bytes()?,
        })
    }
}

jute_record! {
    /// create, create2 and createContainer.
    pub struct CreateRequest {
        /// Path of the node (sequential: prefix of the name).
        pub path: String,
        /// Initial data (null is kept as null).
        pub data: Option<Bytes>,
        /// ACL of the new node.
        pub acl: Vec<Acl>,
        /// [`super::CreateMode`] flags.
        pub flags: i32,
    }
}

jute_record! {
    /// createTTL.
    pub struct CreateTtlRequest {
        /// Path of the node.
        pub path: String,
        /// Initial data.
        pub data: Option<Bytes>,
        /// ACL of the new node.
        pub acl: Vec<Acl>,
        /// [`super::CreateMode`] flags (a TTL mode).
        pub flags: i32,
        /// Time to live in milliseconds.
        pub ttl: i64,
    }
}

jute_record! {
    /// Reply to create (opcode 1).
    pub struct CreateResponse {
        /// The created path (with the sequence suffix, if any).
        pub path: String,
    }
}

jute_record! {
    /// Reply to create2, createContainer and createTTL.
    pub struct Create2Response {
        /// The created path.
        pub path: String,
        /// The new node's stat.
        pub stat: Stat,
    }
}

jute_record! {
    /// delete.
    pub struct DeleteRequest {
        /// The node.
        pub path: String,
        /// Expected version, -1 for any.
        pub version: i32,
    }
}

jute_record! {
    /// check (inside multi).
    pub struct CheckVersionRequest {
        /// The node.
        pub path: String,
        /// Expected version, -1 for any.
        pub version: i32,
    }
}

jute_record! {
    /// exists, getData, getChildren and getChildren2 share this shape.
    pub struct PathWatchRequest {
        /// The node.
        pub path: String,
        /// Whether to leave a one-shot watch.
        pub watch: bool,
    }
}

jute_record! {
    /// Reply to exists and setData/setACL: a stat.
    pub struct StatResponse {
        /// The node's stat.
        pub stat: Stat,
    }
}

jute_record! {
    /// Reply to getData.
    pub struct GetDataResponse {
        /// The data (null when the node was created with null data).
        pub data: Option<Bytes>,
        /// The node's stat.
        pub stat: Stat,
    }
}

jute_record! {
    /// setData.
    pub struct SetDataRequest {
        /// The node.
        pub path: String,
        /// New data.
        pub data: Option<Bytes>,
        /// Expected version, -1 for any.
        pub version: i32,
    }
}

jute_record! {
    /// Requests carrying just a path: getACL, sync, getAllChildrenNumber,
    /// getEphemerals (a prefix), deleteContainer.
    pub struct PathRequest {
        /// The path (for getEphemerals, a prefix).
        pub path: String,
    }
}

jute_record! {
    /// Reply to getACL.
    pub struct GetAclResponse {
        /// The ACL.
        pub acl: Vec<Acl>,
        /// The node's stat.
        pub stat: Stat,
    }
}

jute_record! {
    /// setACL.
    pub struct SetAclRequest {
        /// The node.
        pub path: String,
        /// The new ACL.
        pub acl: Vec<Acl>,
        /// Expected ACL version (aversion), -1 for any.
        pub version: i32,
    }
}

jute_record! {
    /// Reply to getChildren.
    pub struct GetChildrenResponse {
        /// Child names (not paths).
        pub children: Vec<String>,
    }
}

jute_record! {
    /// Reply to getChildren2.
    pub struct GetChildren2Response {
        /// Child names.
        pub children: Vec<String>,
        /// The parent's stat.
        pub stat: Stat,
    }
}

jute_record! {
    /// Reply to sync.
    pub struct SyncResponse {
        /// The synced path.
        pub path: String,
    }
}

jute_record! {
    /// Reply to getAllChildrenNumber.
    pub struct GetAllChildrenNumberResponse {
        /// Number of descendants (not counting the node).
        pub total_number: i32,
    }
}

jute_record! {
    /// Reply to getEphemerals.
    pub struct GetEphemeralsResponse {
        /// Paths of the session's ephemeral nodes under the prefix.
        pub ephemerals: Vec<String>,
    }
}

jute_record! {
    /// addWatch.
    pub struct AddWatchRequest {
        /// The node.
        pub path: String,
        /// An [`super::AddWatchMode`] code.
        pub mode: i32,
    }
}

jute_record! {
    /// checkWatches and removeWatches.
    pub struct WatchesRequest {
        /// The node.
        pub path: String,
        /// A [`super::WatcherType`] code.
        pub watcher_type: i32,
    }
}

jute_record! {
    /// A bare error code: the addWatch reply and multi error results.
    pub struct ErrorResponse {
        /// An [`super::ErrorCode`] code.
        pub err: i32,
    }
}

jute_record! {
    /// Reply to whoAmI.
    pub struct WhoAmIResponse {
        /// One entry per identity of the connection.
        pub client_info: Vec<ClientInfo>,
    }
}

jute_record! {
    /// reconfig.
    pub struct ReconfigRequest {
        /// Servers to add, comma-separated `server.N=...` specs
        /// (incremental mode; null for none).
        pub joining_servers: Option<String>,
        /// Server ids to remove, comma-separated (incremental mode; null
        /// for none).
        pub leaving_servers: Option<String>,
        /// The whole new membership (non-incremental mode; null in
        /// incremental mode, which ZooKeeper tells apart by this null).
        pub new_members: Option<String>,
        /// Expected current config version, -1 for any.
        pub cur_config_id: i64,
    }
}

jute_record! {
    /// SASL token exchange (both directions).
    pub struct SaslPacket {
        /// The token (null when a server without SASL answers).
        pub token: Option<Bytes>,
    }
}

jute_record! {
    /// Re-registers one-shot watches after a reconnect (opcode 101, xid -8).
    pub struct SetWatches {
        /// The client's last seen zxid; changes after it fire at once.
        pub relative_zxid: i64,
        /// Paths with data watches.
        pub data_watches: Vec<String>,
        /// Paths with exist watches.
        pub exist_watches: Vec<String>,
        /// Paths with child watches.
        pub child_watches: Vec<String>,
    }
}

jute_record! {
    /// Re-registers every kind of watch after a reconnect (opcode 105, xid -8).
    pub struct SetWatches2 {
        /// The client's last seen zxid.
        pub relative_zxid: i64,
        /// Paths with data watches.
        pub data_watches: Vec<String>,
        /// Paths with exist watches.
        pub exist_watches: Vec<String>,
        /// Paths with child watches.
        pub child_watches: Vec<String>,
        /// Paths with persistent watches.
        pub persistent_watches: Vec<String>,
        /// Paths with persistent recursive watches.
        pub persistent_recursive_watches: Vec<String>,
    }
}

jute_record! {
    /// The header before each op and result in multi requests and responses.
    pub struct MultiHeader {
        /// The op's opcode (or -1 for an error result / the terminator).
        pub op: i32,
        /// True only on the terminator.
        pub done: bool,
        /// Error code of a result (-1 in requests).
        pub err: i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::acl::{Id, Perms};

    fn round_trip<T: Record + PartialEq + std::fmt::Debug>(v: T) {
        assert_eq!(T::from_bytes(v.to_bytes()).unwrap(), v);
    }

    #[test]
    fn auth_packet_debug_hides_credentials() {
        let p = AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: Bytes::from_static(b"user:secret"),
        };
        assert!(!format!("{p:?}").contains("secret"));
    }

    #[test]
    fn every_record_round_trips() {
        let stat = Stat {
            czxid: 9,
            num_children: 2,
            ..Stat::default()
        };
        let acl = vec![Acl::new(Perms::ALL, Id::anyone())];
        round_trip(RequestHeader { xid: 5, op: 1 });
        round_trip(ReplyHeader {
            xid: 5,
            zxid: 77,
            err: -101,
        });
        round_trip(AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: Bytes::from_static(b"u:p"),
        });
        round_trip(CreateRequest {
            path: "/a".into(),
            data: None,
            acl: acl.clone(),
            flags: 3,
        });
        round_trip(CreateRequest {
            path: "/a".into(),
            data: Some(Bytes::new()),
            acl: acl.clone(),
            flags: 0,
        });
        round_trip(CreateTtlRequest {
            path: "/t".into(),
            data: Some(Bytes::from_static(b"x")),
            acl: acl.clone(),
            flags: 5,
            ttl: 1000,
        });
        round_trip(CreateResponse { path: "/a".into() });
        round_trip(Create2Response {
            path: "/a".into(),
            stat: stat.clone(),
        });
        round_trip(DeleteRequest {
            path: "/a".into(),
            version: -1,
        });
        round_trip(CheckVersionRequest {
            path: "/a".into(),
            version: 3,
        });
        round_trip(PathWatchRequest {
            path: "/a".into(),
            watch: true,
        });
        round_trip(StatResponse { stat: stat.clone() });
        round_trip(GetDataResponse {
            data: Some(Bytes::from_static(b"d")),
            stat: stat.clone(),
        });
        round_trip(SetDataRequest {
            path: "/a".into(),
            data: Some(Bytes::from_static(b"d")),
            version: 1,
        });
        round_trip(PathRequest { path: "/a".into() });
        round_trip(GetAclResponse {
            acl: acl.clone(),
            stat: stat.clone(),
        });
        round_trip(SetAclRequest {
            path: "/a".into(),
            acl,
            version: 0,
        });
        round_trip(GetChildrenResponse {
            children: vec!["x".into(), "y".into()],
        });
        round_trip(GetChildren2Response {
            children: vec![],
            stat,
        });
        round_trip(SyncResponse { path: "/".into() });
        round_trip(GetAllChildrenNumberResponse { total_number: 4 });
        round_trip(GetEphemeralsResponse {
            ephemerals: vec!["/e".into()],
        });
        round_trip(AddWatchRequest {
            path: "/a".into(),
            mode: 1,
        });
        round_trip(WatchesRequest {
            path: "/a".into(),
            watcher_type: 3,
        });
        round_trip(ErrorResponse { err: 0 });
        round_trip(WhoAmIResponse {
            client_info: vec![ClientInfo {
                auth_scheme: "ip".into(),
                user: "127.0.0.1".into(),
            }],
        });
        round_trip(ReconfigRequest {
            joining_servers: Some("server.4=h:1:2".into()),
            leaving_servers: Some(String::new()),
            new_members: None,
            cur_config_id: -1,
        });
        round_trip(SaslPacket {
            token: Some(Bytes::from_static(b"t")),
        });
        round_trip(SaslPacket { token: None });
        round_trip(SetWatches {
            relative_zxid: 3,
            data_watches: vec!["/d".into()],
            exist_watches: vec!["/e".into()],
            child_watches: vec!["/c".into()],
        });
        round_trip(SetWatches2 {
            relative_zxid: 3,
            data_watches: vec![],
            exist_watches: vec![],
            child_watches: vec![],
            persistent_watches: vec!["/p".into()],
            persistent_recursive_watches: vec!["/r".into()],
        });
        round_trip(MultiHeader {
            op: -1,
            done: true,
            err: -1,
        });
    }
}
