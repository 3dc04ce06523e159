//! The bodies of the fuzz targets in `zk-testserver/fuzz/` (run with
//! `scripts/fuzz/run.sh`), kept here so that every input a fuzzer ever found
//! is replayed by `cargo test` (`tests/fuzz_regressions.rs` runs the
//! committed seeds and regression inputs through them).
//!
//! Each function takes arbitrary bytes and panics only when a promise is
//! broken: a decoder must return an error on bad input, never panic, and
//! what decodes must round-trip; the server must survive any client frames
//! without harming other sessions.

mod server;
mod storage;

pub use server::{derived_seeds, server_requests};
pub use storage::storage_files;

use crate::member::AppMessage;
use crate::server::{Database, Txn};
use bytes::Bytes;
use zk_client::proto::Record;

/// Transaction decoding (the payload of every replicated log entry).
pub fn txn_decode(data: &[u8]) {
    if let Ok(txn) = Txn::from_bytes(Bytes::copy_from_slice(data)) {
        match Txn::from_bytes(txn.to_bytes()) {
            Ok(again) => assert_eq!(again, txn, "transaction round trip"),
            Err(e) => panic!("a decoded transaction does not decode again: {e}"),
        }
    }
}

/// Snapshot decoding (what a SNAP sync and recovery read).
pub fn snapshot_decode(data: &[u8]) {
    if let Ok(db) = Database::from_snapshot(Bytes::copy_from_slice(data)) {
        match Database::from_snapshot(db.snapshot()) {
            Ok(again) => {
                assert_eq!(again.digest(), db.digest(), "snapshot digest round trip");
                assert_eq!(again.sessions, db.sessions);
                assert_eq!(again.last_zxid, db.last_zxid);
            }
            Err(e) => panic!("a decoded snapshot does not decode again: {e}"),
        }
    }
}

/// Messages between members (forwarded writes, session touches).
pub fn app_message(data: &[u8]) {
    if let Ok(msg) = AppMessage::decode(Bytes::copy_from_slice(data)) {
        match AppMessage::decode(msg.encode()) {
            Ok(again) => assert_eq!(again, msg, "app message round trip"),
            Err(e) => panic!("a decoded app message does not decode again: {e}"),
        }
    }
}

/// Runs the target called `name` on `data`; false if there is none.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "txn_decode" => txn_decode(data),
        "snapshot_decode" => snapshot_decode(data),
        "app_message" => app_message(data),
        "storage_files" => storage_files(data),
        "server_requests" => server_requests(data),
        _ => return false,
    }
    true
}

/// The names of the targets.
pub const TARGETS: [&str; 5] = [
    "txn_decode",
    "snapshot_decode",
    "app_message",
    "storage_files",
    "server_requests",
];
