//! A ZooKeeper-compatible server for tests.
//!
//! Start one inside a test, point a client at [`Ensemble::connect_string`],
//! and inject faults (expire a session, drop connections, restart):
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let zk = zk_testserver::Ensemble::builder().start().await?;
//! println!("ZooKeeper at {}", zk.connect_string());
//! # Ok(())
//! # }
//! ```
//!
//! Layout: [`tree`] holds the data tree, ACL checks and watches; [`server`]
//! the request pipeline (preparation → transaction → commit → apply) and
//! sessions; [`net`] the client port and four-letter words; [`ensemble`] the
//! API above; [`storage`] the persistence interface used by replication.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod ensemble;
pub mod member;
pub mod net;
pub mod server;
pub mod storage;
pub mod tree;
pub mod zab;

pub use ensemble::{Ensemble, EnsembleBuilder, MemberStatus, SessionInfo};
