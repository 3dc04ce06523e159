//! Request type codes (`ZooDefs.OpCode`) and the reserved xids.

use super::jute::DecodeError;

macro_rules! opcodes {
    ($( $(#[$m:meta])* $name:ident = $code:expr, $wire:literal; )*) => {
        /// The type of a request, as carried in its header.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum OpCode {
            $( $(#[$m])* $name, )*
        }

        impl OpCode {
            /// The code on the wire.
            pub const fn code(self) -> i32 {
                match self { $( OpCode::$name => $code, )* }
            }

            /// The opcode for a wire code, if it is one ZooKeeper defines.
            pub const fn from_code(code: i32) -> Option<OpCode> {
                match code { $( $code => Some(OpCode::$name), )* _ => None }
            }

            /// ZooKeeper's name for the opcode (as in `ZooDefs.opNames` and the server logs).
            pub const fn name(self) -> &'static str {
                match self { $( OpCode::$name => $wire, )* }
            }
        }
    };
}

opcodes! {
    /// A watch notification (server to client only).
    Notification = 0, "notification";
    /// Create a node (reply: path).
    Create = 1, "create";
    /// Delete a node.
    Delete = 2, "delete";
    /// Stat a node, optionally watching for its creation, change or deletion.
    Exists = 3, "exists";
    /// Read a node's data and stat.
    GetData = 4, "getData";
    /// Replace a node's data.
    SetData = 5, "setData";
    /// Read a node's ACL.
    GetAcl = 6, "getACL";
    /// Replace a node's ACL.
    SetAcl = 7, "setACL";
    /// List a node's children.
    GetChildren = 8, "getChildren";
    /// Catch the connected server up with the leader.
    Sync = 9, "sync";
    /// Heartbeat.
    Ping = 11, "ping";
    /// List a node's children with the node's stat.
    GetChildren2 = 12, "getChildren2";
    /// Version check, only valid inside multi.
    Check = 13, "check";
    /// Atomic write transaction.
    Multi = 14, "multi";
    /// Create a node (reply: path and stat).
    Create2 = 15, "create2";
    /// Dynamic reconfiguration.
    Reconfig = 16, "reconfig";
    /// Ask whether watches of a type exist on a path.
    CheckWatches = 17, "checkWatches";
    /// Remove watches of a type from a path.
    RemoveWatches = 18, "removeWatches";
    /// Create a container node.
    CreateContainer = 19, "createContainer";
    /// Delete an empty container (server-internal).
    DeleteContainer = 20, "deleteContainer";
    /// Create a node with a time to live.
    CreateTtl = 21, "createTTL";
    /// Several reads answered together.
    MultiRead = 22, "multiRead";
    /// Add authentication data to the connection.
    Auth = 100, "auth";
    /// Re-register watches after a reconnect.
    SetWatches = 101, "setWatches";
    /// SASL token exchange.
    Sasl = 102, "sasl";
    /// List the caller's session's ephemeral nodes.
    GetEphemerals = 103, "getEphemerals";
    /// Count every descendant of a node.
    GetAllChildrenNumber = 104, "getAllChildrenNumber";
    /// Re-register watches, including persistent ones, after a reconnect.
    SetWatches2 = 105, "setWatches2";
    /// Add a persistent or persistent recursive watch.
    AddWatch = 106, "addWatch";
    /// Ask the server which identities the connection has.
    WhoAmI = 107, "whoAmI";
    /// Marker type of an error result inside a multi response.
    Error = -1, "error";
    /// Session creation (server-internal transaction type).
    CreateSession = -10, "createSession";
    /// End the session.
    CloseSession = -11, "closeSession";
}

impl OpCode {
    /// Decodes a wire code, failing for codes ZooKeeper does not define.
    pub fn decode(code: i32) -> Result<OpCode, DecodeError> {
        OpCode::from_code(code).ok_or(DecodeError::UnknownValue {
            what: "opcode",
            value: code,
        })
    }

    /// Whether the operation changes the data tree (a transaction on the server).
    pub const fn is_write(self) -> bool {
        matches!(
            self,
            OpCode::Create
                | OpCode::Create2
                | OpCode::CreateContainer
                | OpCode::CreateTtl
                | OpCode::Delete
                | OpCode::DeleteContainer
                | OpCode::SetData
                | OpCode::SetAcl
                | OpCode::Check
                | OpCode::Multi
                | OpCode::Reconfig
                | OpCode::CreateSession
                | OpCode::CloseSession
        )
    }
}

impl std::fmt::Display for OpCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Reserved xids that bypass the in-order reply queue.
pub mod xid {
    /// Watch notifications from the server.
    pub const NOTIFICATION: i32 = -1;
    /// Heartbeats.
    pub const PING: i32 = -2;
    /// Authentication packets.
    pub const AUTH: i32 = -4;
    /// SetWatches / SetWatches2 after a reconnect.
    pub const SET_WATCHES: i32 = -8;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in -20..200 {
            if let Some(op) = OpCode::from_code(code) {
                assert_eq!(op.code(), code);
                assert_eq!(OpCode::decode(code), Ok(op));
            } else {
                assert!(OpCode::decode(code).is_err());
            }
        }
        assert_eq!(OpCode::Create2.code(), 15);
        assert_eq!(OpCode::AddWatch.name(), "addWatch");
        assert_eq!(OpCode::CloseSession.code(), -11);
    }
}
