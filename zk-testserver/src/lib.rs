//! A ZooKeeper-compatible replicated ensemble for tests, with faults on
//! demand.
//!
//! # What a test uses
//!
//! - [`Ensemble`] (built with [`Ensemble::builder`]): one or more members on
//!   free ports of 127.0.0.1; kill, restart, partition, slow down members,
//!   expire sessions.
//! - [`proxy::FaultProxy`]: a TCP proxy between one client and one server
//!   that drops, stalls or refuses its connections, or loses the reply of
//!   one chosen request ([`proxy::Fault`], [`proxy::Match`]) — the faults a
//!   single client sees, which an ensemble-wide fault cannot aim.
//!
//! ## An ensemble
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
//! ## Secure clients
//!
//! Secure clients are tested in-process too: a TLS port with certificates
//! made on the spot, x509 identities and SASL DIGEST-MD5 users.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use zk_client::{Client, SaslConfig, TlsConfig};
//! use zk_testserver::tls::{ClientAuth, TestPki};
//! use zk_testserver::Ensemble;
//!
//! let pki = TestPki::generate();
//! let zk = Ensemble::builder()
//!     .tls(pki.server_tls(ClientAuth::Need))
//!     .sasl_user("app", "secret")
//!     .start()
//!     .await?;
//! let cert = pki.client_cert("app");
//! let tls = TlsConfig::builder()
//!     .ca_pem(pki.ca_pem().as_bytes())?
//!     .client_identity_pem(cert.cert_pem.as_bytes(), cert.key_pem.as_bytes())?
//!     .build()?;
//! let client = Client::builder(zk.secure_connect_string().unwrap())
//!     .tls(tls)
//!     .sasl(SaslConfig::digest_md5("app", "secret"))
//!     .connect()
//!     .await?;
//! let who = client.who_am_i().await?;
//! assert!(who.iter().any(|c| c.auth_scheme == "x509" && c.user == "CN=app,O=zk-rs"));
//! assert!(who.iter().any(|c| c.auth_scheme == "sasl" && c.user == "app"));
//! # Ok(())
//! # }
//! ```
//!
//! ## Faults aimed at one client
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use zk_client::proto::OpCode;
//! use zk_client::{Client, CreateMode};
//! use zk_testserver::proxy::{Fault, FaultProxy, Match};
//! use zk_testserver::Ensemble;
//!
//! let zk = Ensemble::builder().start().await?;
//! // The client reaches the server only through the proxy.
//! let proxy = FaultProxy::start(zk.addresses()[0]).await?;
//! let client = Client::connect(proxy.connect_string()).await?;
//!
//! // The server applies the next create, but its reply is lost: the
//! // client sees a connection loss, reconnects and retries, and the retry
//! // finds the node the lost attempt created.
//! let lost = proxy.inject(Match::op(OpCode::Create2), Fault::DropBeforeReply);
//! let err = client.create("/job", "", CreateMode::Persistent).await.unwrap_err();
//! assert!(err.is_node_exists() && err.after_retry());
//! lost.triggered().await;
//!
//! // Silence both ways (the client notices through its own timers), then
//! // heal.
//! proxy.stall();
//! proxy.heal();
//! proxy.drop_connections();
//! client.get_data("/job").await?;
//! # Ok(()) }
//! ```
//!
//! # Below the surface
//!
//! The server's layers are public for the simulator, the fuzzers and
//! differential tests, not for everyday use:
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
//! - [`tls`]: the secure client port's certificates, x509 identities and
//!   test certificates ([`tls::TestPki`]).
//! - [`ensemble`]: the [`Ensemble`] API above.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod admin;
pub mod chaos;
pub mod check;
pub mod control;
pub mod ensemble;
pub mod failpoint;
pub(crate) mod fault_plan;
pub mod fuzzing;
pub mod http;
pub mod member;
pub mod net;
pub mod proxy;
pub mod server;
pub mod sim;
pub mod storage;
pub mod tls;
pub mod tree;
pub mod workload;
pub mod zab;

pub use ensemble::{Ensemble, EnsembleBuilder, MemberStatus, SessionInfo};
pub use net::four_letter::FourLetterWords;
pub use net::limits::ConnectionLimits;
pub use server::ZkVersion;
