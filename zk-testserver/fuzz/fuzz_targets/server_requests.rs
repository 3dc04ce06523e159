//! Arbitrary client frames into a standalone member: no panic, and a well-behaved session beside the fuzzed connection keeps its node and its service.
//!
//! The body lives in `zk_testserver::fuzzing::server_requests`, so `cargo test` replays
//! the committed seeds and every regression input through the same code.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zk_testserver::fuzzing::server_requests(data));
