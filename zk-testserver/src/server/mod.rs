//! The request pipeline of one server: preparation (validation against the
//! tree plus outstanding changes) → transaction → replication → apply →
//! reply, with sessions and per-connection ordering. Pure code: no I/O, time
//! passed in.

pub mod apply;
pub mod config;
pub mod database;
pub mod machine;
pub mod owners;
pub mod prep;
pub mod reads;
pub mod reconfig;
pub mod sessions;
pub mod stats;
pub mod submit;
pub mod txn;
pub mod version;

pub use config::ServerConfig;
pub use database::Database;
pub use machine::{ConnId, Mode, ConnOutput, Server, Time};
pub use submit::{ForwardedWrite, Submission};
pub use txn::{Txn, TxnBody, TxnHeader};
pub use version::ZkVersion;

#[cfg(test)]
mod tests;
