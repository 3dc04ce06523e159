//! Unit tests of the member machine, driven deterministically: no tokio, a
//! simulated clock, in-memory links and storage.

mod failpoints;
mod flows;
mod harness;
mod robust;
