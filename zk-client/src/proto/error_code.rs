//! ZooKeeper's result codes (`KeeperException.Code`).

macro_rules! error_codes {
    ($( $(#[$m:meta])* $name:ident = $code:expr, $text:literal; )*) => {
        /// A result code carried in a reply header or a multi result.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[$m])* $name, )*
        }

        impl ErrorCode {
            /// Every code ZooKeeper 3.9 defines.
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$name, )* ];

            /// The code on the wire.
            pub const fn code(self) -> i32 {
                match self { $( ErrorCode::$name => $code, )* }
            }

            /// The error code for a wire code, if ZooKeeper defines it.
            pub const fn from_code(code: i32) -> Option<ErrorCode> {
                match code { $( $code => Some(ErrorCode::$name), )* _ => None }
            }

            /// A short description, in the words ZooKeeper's exceptions use.
            pub const fn description(self) -> &'static str {
                match self { $( ErrorCode::$name => $text, )* }
            }
        }
    };
}

error_codes! {
    /// Success.
    Ok = 0, "ok";
    /// A server-side system error.
    SystemError = -1, "system error";
    /// A runtime inconsistency (in multi: an op after the failing one).
    RuntimeInconsistency = -2, "runtime inconsistency";
    /// A data inconsistency.
    DataInconsistency = -3, "data inconsistency";
    /// The connection to the server was lost.
    ConnectionLoss = -4, "connection loss";
    /// A record could not be (de)serialized.
    MarshallingError = -5, "marshalling error";
    /// The operation is not implemented (or disabled) on the server.
    Unimplemented = -6, "unimplemented";
    /// The operation timed out.
    OperationTimeout = -7, "operation timeout";
    /// Invalid arguments.
    BadArguments = -8, "bad arguments";
    /// The session is unknown to the server.
    UnknownSession = -12, "unknown session";
    /// A reconfiguration's new configuration has no quorum.
    NewConfigNoQuorum = -13, "new config has no quorum";
    /// Another reconfiguration is in progress.
    ReconfigInProgress = -14, "reconfig in progress";
    /// Generic API error base code.
    ApiError = -100, "api error";
    /// The node does not exist.
    NoNode = -101, "no node";
    /// Not authorized.
    NoAuth = -102, "not authorized";
    /// The expected version does not match.
    BadVersion = -103, "bad version";
    /// Ephemeral nodes cannot have children.
    NoChildrenForEphemerals = -108, "ephemeral nodes cannot have children";
    /// The node already exists.
    NodeExists = -110, "node exists";
    /// The node has children.
    NotEmpty = -111, "directory not empty";
    /// The session has expired.
    SessionExpired = -112, "session expired";
    /// Invalid callback.
    InvalidCallback = -113, "invalid callback";
    /// Invalid ACL.
    InvalidAcl = -114, "invalid ACL";
    /// Authentication failed.
    AuthFailed = -115, "authentication failed";
    /// The session moved to another server.
    SessionMoved = -118, "session moved";
    /// A state-changing request was sent to a read-only server.
    NotReadOnly = -119, "not a read-only call";
    /// An ephemeral node was requested on a local session.
    EphemeralOnLocalSession = -120, "ephemeral on local session";
    /// No watcher of the requested type exists.
    NoWatcher = -121, "no watcher";
    /// The request timed out.
    RequestTimeout = -122, "request timeout";
    /// Reconfiguration is disabled.
    ReconfigDisabled = -123, "reconfig disabled";
    /// The session was closed because SASL authentication is required.
    SessionClosedRequireSaslAuth = -124, "session closed: SASL auth required";
    /// A quota was exceeded.
    QuotaExceeded = -125, "quota exceeded";
    /// The request was throttled.
    ThrottledOp = -127, "throttled";
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.description(), self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        assert_eq!(ErrorCode::ALL.len(), 32);
        for &c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(c.code()), Some(c));
        }
        assert_eq!(ErrorCode::from_code(-9999), None);
        assert_eq!(ErrorCode::NodeExists.code(), -110);
    }
}
