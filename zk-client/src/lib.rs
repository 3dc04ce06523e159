//! An async Apache ZooKeeper client for tokio.
//!
//! # What a service uses
//!
//! | Item | For |
//! |---|---|
//! | [`Client`] | one session; every ZooKeeper operation; cheap to clone |
//! | [`ClientBuilder`] | session timeout, credentials, retries, deadlines, limits |
//! | [`CreateMode`], [`CreateOptions`] | persistent, ephemeral, sequential, container and TTL nodes, ACLs |
//! | [`Stat`] | a node's versions and zxids (for conditional updates) |
//! | [`OneshotWatch`], [`PersistentWatch`] | watches: a future, a stream |
//! | [`WatchEvent`], [`WatchedEvent`], [`EventType`] | what watches deliver |
//! | [`ConnectionState`] | `Connected`, `Suspended`, `Reconnected`, `Lost`, ... ([`Client::state_stream`]) |
//! | [`Error`], [`ErrorKind`], [`ErrorCode`] | typed errors (`is_node_exists`, `is_connection_loss`, ...) |
//! | [`Op`], [`OpResult`], [`OpFailure`] | atomic multi-op transactions ([`Client::multi`]) |
//! | [`ReadOp`], [`ReadResult`] | several reads in one round trip ([`Client::multi_read`]) |
//! | [`Acl`], [`Perms`], [`Id`] | access control |
//! | [`AddWatchMode`], [`WatcherType`] | persistent watches ([`Client::add_watch`]) and which watches to remove ([`Client::remove_watches`]) |
//! | [`retry`] | retry policies that know which requests are safe to repeat |
//! | [`TlsConfig`], [`TlsConfigBuilder`], [`SaslConfig`] | secure ensembles: TLS on rustls (mutual TLS, x509 identities) and SASL DIGEST-MD5 ([`ClientBuilder::tls`], [`ClientBuilder::sasl`]) |
//! | [`WeakClient`] | a handle that does not keep the session alive (for background tasks) |
//! | [`Reconfig`], [`EnsembleFollower`] | dynamic reconfiguration ([`Client::reconfig`]) and following the ensemble's membership ([`Client::follow_ensemble`]) |
//! | [`Result`] | `Result<T, Error>` |
//!
//! ```
//! use std::time::Duration;
//! use zk_client::{Client, CreateMode, WatchEvent};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let ensemble = zk_testserver::Ensemble::builder().start().await?;
//! # let connect_string = format!("{}/my-app", ensemble.connect_string());
//! // "host:port,host:port/my-app": every path is under /my-app (created
//! // on first use).
//! let client = Client::builder(&connect_string)
//!     .session_timeout(Duration::from_secs(10))
//!     .connect()
//!     .await?;
//!
//! // Typed errors: an existing node is not a failure here.
//! match client.create("/config", "v1", CreateMode::Persistent).await {
//!     Ok(_) => {}
//!     Err(e) if e.is_node_exists() => {}
//!     Err(e) => return Err(e.into()),
//! }
//! // A member node that lives as long as this session.
//! client.create_all("/members", "", CreateMode::Persistent).await?;
//! let (me, _) = client
//!     .create("/members/m-", "host-a", CreateMode::EphemeralSequential)
//!     .await?;
//! assert!(me.starts_with("/members/m-"));
//!
//! // Read and leave a one-shot watch; a conditional write fires it.
//! let (data, stat, watch) = client.get_data_watch("/config").await?;
//! assert_eq!(&data[..], b"v1");
//! client.set_data("/config", "v2", Some(stat.version)).await?;
//! match watch.await {
//!     WatchEvent::Node(event) => println!("{:?} on {}", event.event_type, event.path),
//!     other => println!("watch ended: {other:?}"),
//! }
//! client.close().await?;
//! # Ok(()) }
//! ```
//!
//! # Defaults a long-running service gets
//!
//! - The session moves between ensemble members on failures and is
//!   **renewed after an expiry** (`Lost`, then `Connected` with a new
//!   session id; [`ClientBuilder::renew_session_on_expiry`]).
//! - A chroot in the connect string is **created on first use**
//!   ([`ClientBuilder::create_chroot`]).
//! - Reads and idempotent writes are retried after connection losses
//!   ([`retry`]); bound any call with [`Client::with_deadline`].
//! - **Every queue is bounded**: a persistent watch's stream holds
//!   [`ClientBuilder::watch_buffer`] events and marks a gap with
//!   [`WatchEvent::Resync`] past that; requests beyond
//!   [`ClientBuilder::max_pending_requests`] wait for room.
//! - Reconnects back off, also after connections that die right after a
//!   good handshake ([`session::ReconnectPacer`]).
//!
//! # Cancel safety
//!
//! Every async fn says in a "Cancel safety" section what dropping it
//! before it returns loses (the loser of a `select!`, a
//! `tokio::time::timeout`, a cancelled task). In short: reads and watch
//! calls lose nothing (a dropped watch call registers no watch); a dropped
//! write may or may not have been applied, exactly as after a connection
//! loss; a dropped `close` still closes; a dropped `connect` leaves
//! nothing open.
//!
//! # Below the surface
//!
//! The layers under [`Client`] are public for tools, tests and the
//! in-process server (zk-testserver reuses them), not for everyday use:
//!
//! - [`proto`]: the jute wire format, every record and opcode, frames.
//! - [`session`]: the sans-IO session machine ([`session::SessionMachine`],
//!   time passed in), which host to try next ([`session::HostOrder`]) and
//!   when ([`session::ReconnectPacer`]).
//! - [`watch`]: the client-side watch table ([`watch::WatchRegistry`]) and
//!   the watch handles.
//! - [`connect_string`]: parsing `host:port,.../chroot`.
//! - [`ensemble_config`]: the ensemble's configuration as `/zookeeper/config`
//!   holds it.
//! - [`sasl`]: the SASL mechanisms a client authenticates with.
//!
//! # Cargo features
//!
//! - `runtime` (default): the async client on tokio — [`Client`], the task
//!   that drives a session over TCP or TLS, [`retry`], the watch handles.
//!   With `default-features = false` the crate is the wire protocol and the
//!   sans-IO session layer alone (`proto`, `session`, `watch`,
//!   `connect_string`, `ensemble_config`, `sasl`, [`Error`], [`Op`]) and
//!   does not depend on tokio, futures, backoff or rustls.
//! - `gssapi`: SASL GSSAPI (Kerberos) over the system's MIT Kerberos
//!   (`SaslConfig::gssapi`); needs libkrb5-dev and libclang-dev to build.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
// No panics on data from the network or the server: errors instead.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
// Without the runtime, the error constructors and watch plumbing only the
// driver calls are unused; the runtime build checks them.
#![cfg_attr(not(feature = "runtime"), allow(dead_code))]

#[cfg(feature = "runtime")]
mod client;
pub mod connect_string;
pub mod ensemble_config;
mod error;
mod ops;
pub mod proto;
#[cfg(feature = "runtime")]
pub mod retry;
pub mod sasl;
pub mod session;
#[cfg(feature = "runtime")]
mod transport;
pub mod watch;

#[cfg(feature = "runtime")]
pub use client::{Client, ClientBuilder, EnsembleFollower, Reconfig, WeakClient};
pub use error::{Error, ErrorKind, Result};
pub use ops::{CreateOptions, Op, OpFailure, OpResult, ReadOp, ReadResult};
pub use proto::{
    Acl, AddWatchMode, CreateMode, ErrorCode, EventType, Id, Perms, Stat, WatcherType,
};
pub use sasl::SaslConfig;
pub use session::ConnectionState;
#[cfg(feature = "runtime")]
pub use transport::{TlsConfig, TlsConfigBuilder};
#[cfg(feature = "runtime")]
pub use watch::{OneshotWatch, PersistentWatch};
pub use watch::{WatchEvent, WatchedEvent};
