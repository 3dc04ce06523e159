//! The servers a client may connect to, tried in a shuffled round-robin.

use rand::seq::SliceRandom;

/// The ensemble's client addresses, shuffled once so clients spread out.
#[derive(Debug, Clone)]
pub(crate) struct HostList {
    hosts: Vec<(String, u16)>,
    next: usize,
}

impl HostList {
    pub(crate) fn new(mut hosts: Vec<(String, u16)>) -> HostList {
        hosts.shuffle(&mut rand::rng());
        HostList { hosts, next: 0 }
    }

    pub(crate) fn len(&self) -> usize {
        self.hosts.len()
    }

    /// The next host to try.
    pub(crate) fn next_host(&mut self) -> (String, u16) {
        let host = self.hosts[self.next % self.hosts.len()].clone();
        self.next = (self.next + 1) % self.hosts.len();
        host
    }
}
