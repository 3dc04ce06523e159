//! A deterministic simulator of an ensemble with clients, workloads and
//! faults, in one thread, on simulated time.
//!
//! # What runs
//!
//! - **Members**: the real [`MemberMachine`](crate::member::MemberMachine)s
//!   (server and ZAB), each with a
//!   [`MemoryStorage`](crate::storage::MemoryStorage) whose appends become
//!   durable only when a simulated flush completes (after a random delay),
//!   so a crash loses the unflushed tail; a wiped member restarts empty.
//! - **Clients**: the real pure `zk_client` session machines
//!   ([`zk_client::session::SessionMachine`]), each connected to one member
//!   at a time; their request and reply bytes travel over simulated
//!   connections, and they reconnect across members as the real driver does.
//! - **Workloads** ([`crate::workload`]): async processes polled by a
//!   single-threaded executor between events; they see simulated time only.
//! - **Faults** (`faults.rs`): crashes with and without disk loss (the
//!   latter only where the others can stand in), power loss of several
//!   members at once (each losing its unflushed appends), restarts, partitions,
//!   leader isolation, one-way cuts, lossy and slow links, session expiry,
//!   dropped client connections, client ↔ member cuts, paused members, slow
//!   disks, failpoints armed at random, and observers (a third of the
//!   seeds have one) crashed, wiped or cut off.
//!
//! There is no tokio, no socket and no real clock here: time is an
//! [`Instant`](std::time::Instant) anchor plus simulated offsets, and every
//! choice (delays, losses, faults, workload choices, election jitter) comes
//! from random streams seeded by the run's seed.
//!
//! # Determinism
//!
//! One event at a time: the earliest of the event queue (ordered by time,
//! then by insertion), the members' and clients' own timers (by id), and the
//! processes' sleeps. After each event every member and client is drained
//! in id order and the processes are polled until they wait. Nothing
//! iterates a hash map in an order that reaches the outside (the member
//! machine's connection map is walked in id order), so a seed always
//! produces the same sequence of events: the [`EventLog`] hashes every event
//! (with every byte exchanged with clients), and a test runs seeds twice and
//! compares the hashes.
//!
//! ```
//! use std::time::Duration;
//! use zk_testserver::sim::{self, SimConfig};
//!
//! let mut cfg = SimConfig::for_seed(7);
//! cfg.duration = Duration::from_secs(3);
//! let first = sim::run(cfg.clone());
//! let again = sim::run(cfg);
//! assert!(first.result.is_ok(), "{:?}", first.result);
//! assert_eq!(first.hash, again.hash);
//! ```

mod client;
mod config;
mod exec;
mod faults;
mod log;
mod node;
mod run;
mod script;
mod world;

pub use config::SimConfig;
pub use exec::{ClientId, SimSession, SimWorld};
pub use log::EventLog;
pub use run::{run, SimOutcome};
pub use world::Sim;

#[cfg(test)]
mod tests;
