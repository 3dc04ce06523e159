//! The client integration suite: every operation and error path against a
//! live ensemble (real ZooKeeper or zk-testserver).

mod common;

mod acl;
mod bad_server;
mod bounded;
mod cancel;
mod chroot;
mod faults;
mod future_size;
mod multi;
mod nodes;
mod observers;
mod pacing;
mod read_only;
mod reconfig;
mod session;
mod tree;
mod watches;
