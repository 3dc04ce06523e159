//! The servers a client may connect to, tried in a shuffled round-robin.

use rand::seq::SliceRandom;

/// The order in which a session tries the ensemble's members: shuffled once
/// (so clients spread out over the ensemble), then round-robin.
///
/// Generic over what names a host, so the connection task (host names and
/// ports) and the simulator (member ids) choose hosts with the same code;
/// the shuffle's randomness is passed in, so a seeded run repeats.
#[derive(Debug, Clone)]
pub struct HostOrder<H> {
    hosts: Vec<H>,
    next: usize,
}

impl<H: Clone> HostOrder<H> {
    /// The hosts in an order drawn from `rng`; None if there are none.
    pub fn new(mut hosts: Vec<H>, rng: &mut impl rand::Rng) -> Option<HostOrder<H>> {
        if hosts.is_empty() {
            return None;
        }
        hosts.shuffle(rng);
        Some(HostOrder { hosts, next: 0 })
    }

    /// How many hosts there are.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// Always false: an order has at least one host.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// The next host to try.
    pub fn next_host(&mut self) -> H {
        let host = self.hosts[self.next % self.hosts.len()].clone();
        self.next = (self.next + 1) % self.hosts.len();
        host
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn every_host_is_tried_once_per_round_in_a_seeded_order() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let mut order = HostOrder::new((1..=5).collect::<Vec<u32>>(), &mut rng).unwrap();
        let round: Vec<u32> = (0..5).map(|_| order.next_host()).collect();
        let mut sorted = round.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, vec![1, 2, 3, 4, 5]);
        let again: Vec<u32> = (0..5).map(|_| order.next_host()).collect();
        assert_eq!(round, again, "round-robin after the shuffle");
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let mut same = HostOrder::new((1..=5).collect::<Vec<u32>>(), &mut rng).unwrap();
        assert!(HostOrder::<u32>::new(Vec::new(), &mut rng).is_none());
        let replay: Vec<u32> = (0..5).map(|_| same.next_host()).collect();
        assert_eq!(round, replay, "the same seed gives the same order");
    }
}
