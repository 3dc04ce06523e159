//! An async Apache ZooKeeper client for tokio.
//!
//! - The whole ZooKeeper 3.6–3.9 client protocol ([`proto`]), wire-exact.
//! - One [`Client`] handle per session, cheap to clone; requests from every
//!   clone are pipelined on one connection.
//! - Sessions survive reconnects across ensemble members; states
//!   ([`ConnectionState`]) are published as a stream.
//! - One-shot watches are futures ([`OneshotWatch`]), persistent watches are
//!   streams ([`PersistentWatch`]); both are re-registered after reconnects.
//! - Idempotence-aware retries ([`retry`]) and per-call deadlines.
//!
//! ```
//! use zk_client::{Client, CreateMode, WatchEvent};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let ensemble = zk_testserver::Ensemble::builder().start().await?;
//! # let connect_string = ensemble.connect_string();
//! let client = Client::connect(&connect_string).await?;
//! client.create("/app", "v1", CreateMode::Persistent).await?;
//!
//! // Read and leave a one-shot watch.
//! let (data, stat, watch) = client.get_data_watch("/app").await?;
//! assert_eq!(&data[..], b"v1");
//!
//! // A write from anyone fires it.
//! client.set_data("/app", "v2", Some(stat.version)).await?;
//! match watch.await {
//!     WatchEvent::Node(event) => println!("{:?} on {}", event.event_type, event.path),
//!     other => println!("watch ended: {other:?}"),
//! }
//! client.close().await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod client;
pub mod connect_string;
pub mod ensemble_config;
mod error;
mod ops;
pub mod proto;
pub mod retry;
pub mod session;
pub mod watch;

pub use client::{Client, ClientBuilder, EnsembleFollower, Reconfig};
pub use error::{Error, ErrorKind, Result};
pub use ops::{CreateOptions, Op, OpResult, ReadOp, ReadResult};
pub use proto::{
    Acl, AddWatchMode, CreateMode, ErrorCode, EventType, Id, Perms, Stat, WatcherType,
};
pub use session::ConnectionState;
pub use watch::{OneshotWatch, PersistentWatch, WatchEvent, WatchedEvent};
