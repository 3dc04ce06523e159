//! The files of a data directory (log segments, snapshots, epochs), raw and as damaged valid segments.
//!
//! The body lives in `zk_testserver::fuzzing::storage_files`, so `cargo test` replays
//! the committed seeds and every regression input through the same code.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zk_testserver::fuzzing::storage_files(data));
