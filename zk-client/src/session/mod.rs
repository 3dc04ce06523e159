//! Sessions: the pure [`SessionMachine`] and the tokio task that drives it.
//!
//! The machine implements the protocol (handshake, pipelined requests
//! matched by xid, notifications, pings, dead-connection detection,
//! reconnection with the same session, expiry) and is tested with a fake
//! clock; the driver only moves bytes and time. Which host to try next
//! ([`HostOrder`]) and when ([`ReconnectPacer`]) are pure too, with their
//! randomness passed in, so the simulator reconnects with the same code.

mod config;
#[cfg(feature = "runtime")]
pub(crate) mod driver;
mod hosts;
mod machine;
mod pacing;
mod sasl;
mod state;
mod timers;

pub use config::SessionConfig;
pub use hosts::HostOrder;
pub use machine::{Reply, ReplySink, SessionEvent, SessionMachine, WatchRequest};
pub use pacing::ReconnectPacer;
pub use state::ConnectionState;

#[cfg(all(test, feature = "runtime"))]
mod tests;
