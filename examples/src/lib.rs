//! Runnable programs for the zk-rs toolkit, and the code they share.
//!
//! - [`bench`]: the workload behind the `zk-bench` binary (also compiled
//!   into the peer benchmark under `scripts/bench/peer/`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bench;
