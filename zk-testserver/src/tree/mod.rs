//! The data tree and what lives beside it: nodes and their stats, ACL checks,
//! and the server-side watch registry. Pure code: no I/O, no clock.

pub mod acl;
pub mod children;
pub mod data_tree;
pub mod java_order;
pub mod node;
pub mod watch;

pub use acl::AuthInfo;
pub use data_tree::DataTree;
pub use node::{Acls, Node, NodeKind};
pub use watch::{Fired, RemoveKind, ServerWatchKind, WatchManager, WatcherId};
