//! The simulator's own tests, and regression tests of known ZooKeeper bugs
//! written as scripted simulations.

mod reconnect;
mod runs;
mod support;
mod zk_2355;
mod zk_3642;
mod zk_3911;
mod zk_trunc;
