//! Transaction decoding (the payload of every replicated log entry): any bytes give a transaction or an error, never a panic; what decodes round-trips.
//!
//! The body lives in `zk_testserver::fuzzing::txn_decode`, so `cargo test` replays
//! the committed seeds and every regression input through the same code.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zk_testserver::fuzzing::txn_decode(data));
