//! A ZooKeeper-compatible replicated ensemble for tests (work in progress).
pub mod proxy;
pub mod storage;
