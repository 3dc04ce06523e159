//! Async Apache ZooKeeper client (work in progress).
#![deny(missing_docs)]

pub mod proto;
