//! A ZooKeeper-compatible replicated ensemble for tests, with faults on
//! demand.
//!
//! Start an ensemble inside a test, point any ZooKeeper client at
//! [`Ensemble::connect_string`], and kill, restart, partition or slow down
//! members while it runs:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use zk_client::{Client, CreateMode};
//! use zk_testserver::Ensemble;
//!
//! // Three members on free ports of 127.0.0.1, replicating with ZAB.
//! let zk = Ensemble::builder()
//!     .members(3)
//!     .tick(Duration::from_millis(50))
//!     .start()
//!     .await?;
//! let client = Client::connect(zk.connect_string()).await?;
//! client.create("/config", "v1", CreateMode::Persistent).await?;
//!
//! // Kill the leader: the others elect a new one, the client moves on.
//! let leader = zk.wait_for_leader().await?;
//! zk.kill(leader).await?;
//! client.set_data("/config", "v2", None).await?;
//! assert_ne!(zk.wait_for_leader().await?, leader);
//!
//! // Bring it back: it rejoins as a follower and catches up.
//! zk.restart(leader).await?;
//! zk.wait_until_converged().await?;
//!
//! // Cut it off again: the majority keeps serving writes.
//! let others: Vec<u64> = zk.members().into_iter().filter(|m| *m != leader).collect();
//! zk.partition(&[&[leader], &others]);
//! client.set_data("/config", "v3", None).await?;
//!
//! // Heal: everyone holds the same data again.
//! zk.heal();
//! let digest = zk.wait_until_converged().await?;
//! assert_eq!(zk.digest(leader).await?, digest);
//! # Ok(())
//! # }
//! ```
//!
//! With one member (the default) the server runs standalone, as a ZooKeeper
//! without a quorum configuration. The `zk-testserver` binary runs the same
//! ensembles from the command line (`--members 3 --port 2181`).
//!
//! # Layout
//!
//! - [`member`]: one member as a pure state machine — the server joined with
//!   its replication, no I/O, time passed in — and how requests flow between
//!   members (forwarding, replies, sync, sessions).
//! - [`server`]: the request pipeline of one member (preparation →
//!   transaction → apply → reply) and its sessions.
//! - [`zab`]: the ZAB member (election, discovery, sync, broadcast).
//! - [`tree`]: the data tree, ACL checks and watches.
//! - [`storage`]: the transaction log and snapshots, in memory or in a
//!   directory.
//! - [`net`]: the tokio side — client port, connection tasks, the task that
//!   drives a member, the in-process links between members, four-letter
//!   words.
//! - [`ensemble`]: the [`Ensemble`] API above.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod chaos;
pub mod check;
pub mod ensemble;
pub mod failpoint;
pub(crate) mod fault_plan;
pub mod fuzzing;
pub mod member;
pub mod net;
pub mod proxy;
pub mod server;
pub mod sim;
pub mod storage;
pub mod tree;
pub mod workload;
pub mod zab;

pub use ensemble::{Ensemble, EnsembleBuilder, MemberStatus, SessionInfo};
