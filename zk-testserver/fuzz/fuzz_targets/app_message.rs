//! Messages between members (forwarded writes, session touches): any bytes give a message or an error, never a panic; messages round-trip.
//!
//! The body lives in `zk_testserver::fuzzing::app_message`, so `cargo test` replays
//! the committed seeds and every regression input through the same code.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zk_testserver::fuzzing::app_message(data));
