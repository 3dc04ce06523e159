//! A ZooKeeper-compatible replicated ensemble for tests (work in progress).
pub mod storage;
pub mod zab;
