//! A ZooKeeper-compatible server for tests.
#![deny(missing_docs)]

pub mod server;
pub mod storage;
pub mod tree;
