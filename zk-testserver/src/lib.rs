//! A ZooKeeper-compatible replicated ensemble for tests, with faults on
//! demand.
//!
//! # What a test uses
//!
//! | Item | For |
//! |---|---|
//! | [`Ensemble`], [`EnsembleBuilder`] | members on free ports of 127.0.0.1 (standalone or replicated with ZAB); kill, restart, partition, slow down members, expire sessions, wait for a leader or convergence |
//! | [`MemberStatus`], [`Role`], [`MemberId`], [`SyncCounts`], [`SessionInfo`], [`MemberView`] | what [`Ensemble::status`], [`Ensemble::sessions`] and [`Ensemble::view`] report |
//! | [`ensemble::Error`], [`ensemble::Result`], [`MemberError`] | the ensemble API's errors |
//! | [`proxy::FaultProxy`] | a TCP proxy between one client and one server that drops, stalls or refuses its connections, or loses the reply of one chosen request ([`proxy::Fault`], [`proxy::Match`]) — the faults a single client sees, which an ensemble-wide fault cannot aim |
//! | [`failpoint`] | named points inside a member where a fault fires once ([`Ensemble::set_failpoint`]) |
//! | [`tls`] | the secure client port: [`tls::ServerTls`], x509 identities, certificates made on the spot ([`tls::TestPki`]) |
//! | [`FourLetterWords`], [`ConnectionLimits`], [`ZkVersion`] | settings of [`EnsembleBuilder`]: the four-letter words answered, per-client limits, the ZooKeeper release imitated |
//! | [`control`] | the fault API over HTTP/JSON, for tests in other languages (the binary's `--control`) |
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
//! # Cargo features
//!
//! - `cli` (default): the `zk-testserver` binary's command line and log
//!   output. A library user can turn it off.
//! - `verification` (off by default): the machinery this project checks
//!   itself with — the deterministic simulator (`sim`), the history
//!   checkers (`check`), workloads (`workload`), randomized fault runs over
//!   real clients (`chaos`), the fuzz targets' bodies (`fuzzing`) — and the
//!   server's internal layers they drive, made public for them: `member`
//!   (one member as a pure state machine), `server` (the request pipeline
//!   and sessions), `zab` (election, sync, broadcast), `tree` (the data
//!   tree, ACLs, watches), `storage` (log and snapshots), `net` (the tokio
//!   side). It enables the client's runtime (`zk-client/runtime`) for the
//!   chaos runs. These are not a stable API.
//!
//! Without `verification` the crate needs only zk-client's wire protocol
//! (`default-features = false`), not the client's runtime.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

/// Declares one of the server's internal layers: private, or public with
/// the `verification` feature for the simulator, the fuzzers and white-box
/// tests, which drive them directly.
macro_rules! internal_layer {
    ($name:ident) => {
        #[cfg(feature = "verification")]
        pub mod $name;
        // Some items (and re-exports) are reached only by the verification
        // machinery; the `verification` build checks them.
        #[cfg(not(feature = "verification"))]
        #[allow(dead_code, unused_imports)]
        mod $name;
    };
}

// What a test author uses.
pub mod control;
pub mod ensemble;
pub mod failpoint;
pub mod proxy;
pub mod tls;

pub use ensemble::{Ensemble, EnsembleBuilder, MemberStatus, SessionInfo};
pub use member::{MemberError, MemberView, SyncCounts};
pub use net::four_letter::FourLetterWords;
pub use net::limits::ConnectionLimits;
pub use server::ZkVersion;
pub use zab::{MemberId, Role};

// The verification machinery (feature "verification").
#[cfg(feature = "verification")]
pub mod chaos;
#[cfg(feature = "verification")]
pub mod check;
#[cfg(feature = "verification")]
mod fault_plan;
#[cfg(feature = "verification")]
pub mod fuzzing;
#[cfg(feature = "verification")]
pub mod sim;
#[cfg(feature = "verification")]
pub mod workload;

// The server's layers.
mod admin;
mod http;
internal_layer!(member);
internal_layer!(net);
internal_layer!(server);
internal_layer!(storage);
internal_layer!(tree);
internal_layer!(zab);
