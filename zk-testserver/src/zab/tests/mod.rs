//! Deterministic tests of the ZAB member, driven by the simulation harness.

mod basic;
mod faults;
mod observers;
mod races;
mod random;
mod reconfig;
mod retention;
mod robust;
