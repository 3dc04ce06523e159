//! Watch-related wire types: event types, keeper states, watcher types, add-watch
//! modes and the notification record.

use super::jute::{jute_record, DecodeError};

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident, $what:literal { $( $(#[$vm:meta])* $v:ident = $code:expr, )* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vm])* $v, )*
        }

        impl $name {
            /// The value on the wire.
            pub const fn code(self) -> i32 {
                match self { $( $name::$v => $code, )* }
            }

            /// Decodes a wire value.
            pub fn from_code(code: i32) -> Result<$name, DecodeError> {
                match code {
                    $( $code => Ok($name::$v), )*
                    value => Err(DecodeError::UnknownValue { what: $what, value }),
                }
            }
        }
    };
}

wire_enum! {
    /// What happened to the watched node (`Watcher.Event.EventType`).
    EventType, "event type" {
        /// A connection state change, not about a node.
        None = -1,
        /// The node was created.
        NodeCreated = 1,
        /// The node was deleted.
        NodeDeleted = 2,
        /// The node's data changed.
        NodeDataChanged = 3,
        /// The node's child list changed.
        NodeChildrenChanged = 4,
        /// A data watch was removed (client-local).
        DataWatchRemoved = 5,
        /// A child watch was removed (client-local).
        ChildWatchRemoved = 6,
        /// A persistent watch was removed (client-local).
        PersistentWatchRemoved = 7,
    }
}

wire_enum! {
    /// Connection state carried by an event (`Watcher.Event.KeeperState`).
    KeeperState, "keeper state" {
        /// Unknown (unused).
        Unknown = -1,
        /// Disconnected from the ensemble.
        Disconnected = 0,
        /// Unused legacy state.
        NoSyncConnected = 1,
        /// Connected; every notification carries this.
        SyncConnected = 3,
        /// Authentication failed.
        AuthFailed = 4,
        /// Connected to a read-only server.
        ConnectedReadOnly = 5,
        /// SASL authentication succeeded.
        SaslAuthenticated = 6,
        /// The session expired.
        Expired = -112,
        /// The client closed the session.
        Closed = 7,
    }
}

wire_enum! {
    /// Which watches checkWatches / removeWatches address (`Watcher.WatcherType`).
    WatcherType, "watcher type" {
        /// Child watches.
        Children = 1,
        /// Data and exist watches.
        Data = 2,
        /// Every kind.
        Any = 3,
        /// Persistent watches.
        Persistent = 4,
        /// Persistent recursive watches.
        PersistentRecursive = 5,
    }
}

wire_enum! {
    /// The kind of watch addWatch installs (`AddWatchMode`).
    AddWatchMode, "add-watch mode" {
        /// Fires for the node itself and its child list, never removed by firing.
        Persistent = 0,
        /// Fires for the node and every descendant, never removed by firing.
        PersistentRecursive = 1,
    }
}

jute_record! {
    /// A watch notification as sent on the wire (xid -1).
    pub struct WatcherEvent {
        /// An [`EventType`] code.
        pub event_type: i32,
        /// A [`KeeperState`] code.
        pub state: i32,
        /// The node the event is about (server-absolute).
        pub path: String,
    }
}

impl WatcherEvent {
    /// A node event as the server sends it (state SyncConnected).
    pub fn node(event_type: EventType, path: impl Into<String>) -> WatcherEvent {
        WatcherEvent {
            event_type: event_type.code(),
            state: KeeperState::SyncConnected.code(),
            path: path.into(),
        }
    }

    /// The decoded event type.
    pub fn kind(&self) -> Result<EventType, DecodeError> {
        EventType::from_code(self.event_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::jute::Record;

    #[test]
    fn codes() {
        assert_eq!(
            EventType::from_code(4).unwrap(),
            EventType::NodeChildrenChanged
        );
        assert!(EventType::from_code(9).is_err());
        assert_eq!(KeeperState::Expired.code(), -112);
        assert_eq!(WatcherType::PersistentRecursive.code(), 5);
        assert_eq!(
            AddWatchMode::from_code(1).unwrap(),
            AddWatchMode::PersistentRecursive
        );
        let e = WatcherEvent::node(EventType::NodeDeleted, "/a");
        assert_eq!(WatcherEvent::from_bytes(e.to_bytes()).unwrap(), e);
        assert_eq!(e.kind().unwrap(), EventType::NodeDeleted);
    }
}
