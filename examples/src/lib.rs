//! Runnable programs for the zk-rs toolkit, and the code they share.
//!
//! User-facing examples live in `src/bin/`; each runs on an in-process
//! zk-testserver ensemble by default and on an existing ensemble with
//! `--connect HOSTS` (see [`target::TargetArgs`]):
//!
//! - `quickstart`: the tour (locks, leader latch, discovery, typed config,
//!   a leader failure) — its logic is [`quickstart`], checked by the tests.
//! - one program per recipe: `lock`, `rwlock`, `semaphore`, `leader_latch`,
//!   `leader_election`, `queue`, `barrier`, `service_discovery`,
//!   `config_watch`;
//! - client features: `watch_tree` (persistent recursive watch), `multi`
//!   (transactions), `acl` (auth and ACLs).
//!
//! Benchmark and interop tools live in `src/tools/` (`[[bin]]` entries of
//! the same names, run as `cargo run -p examples --bin zk-bench -- ...`):
//!
//! - `zk-bench`: the load generator; its workload is [`mod@bench`] (also
//!   compiled into the peer benchmark under `scripts/bench/peer/`);
//!   `zk-lock-bench`: lock handoffs per second with `zk_recipes::Lock`;
//!   `zk-lock-floor`: the same on the bare protocol;
//!   `zk-fill`: loads a server with many znodes (memory measurements);
//!   `zk-footprint`: resident memory per idle session and per watch
//!   ([`mod@footprint`], also compiled into the peer);
//!   `zk-scale`: server costs seen through one client (watch fan-out,
//!   getChildren of many children, time to a first acknowledged write);
//!   `zk-interop`: the Rust side of the interop suite with real Curator
//!   ([`mod@interop`]).
//!
//! Every program parses its command line with clap: `--help` lists the
//! flags, and a bad value is an error naming its flag (exit status 2).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bench;
pub mod footprint;
pub mod interop;
pub mod lock_bench;
pub mod quickstart;
pub mod target;

/// The README's code, compiled as doctests so it cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
