//! The request pipeline of one server: preparation (validation against the
//! tree plus outstanding changes) → transaction → commit → apply → reply,
//! with sessions and per-connection ordering. Pure code: no I/O, time passed in.

pub mod apply;
pub mod commit;
pub mod config;
pub mod database;
pub mod machine;
pub mod prep;
pub mod reads;
pub mod sessions;
pub mod stats;
pub mod txn;

pub use commit::{Committer, ForwardedWrite, LocalCommitter, SharedLog};
pub use config::ServerConfig;
pub use machine::{ConnId, Output, Server, Time};
pub use txn::{Txn, TxnBody, TxnHeader};

#[cfg(test)]
mod tests;
