//! Unit tests of the pure server pipeline, driven with a fake clock.

mod acl;
mod forwarding;
mod harness;
mod ops;
mod pipeline;
mod sasl;
mod sessions;
mod watches;
