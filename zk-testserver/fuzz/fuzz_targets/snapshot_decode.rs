//! Snapshot decoding (what SNAP sync and recovery read): any bytes give a database or an error, never a panic; what decodes round-trips.
//!
//! The body lives in `zk_testserver::fuzzing::snapshot_decode`, so `cargo test` replays
//! the committed seeds and every regression input through the same code.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zk_testserver::fuzzing::snapshot_decode(data));
