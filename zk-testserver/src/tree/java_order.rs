//! The iteration order of Java's hash collections, where ZooKeeper lets it
//! show: children lists, getEphemerals, the order a closed session's
//! ephemerals are deleted (and so the order of the watch events), and the
//! order of a connection's identities (whoAmI, `auth` ACL expansion).
//!
//! ZooKeeper returns these straight from `HashSet<String>`s and a
//! `ConcurrentHashMap`-backed set, so a client sees them in hash-table
//! order. Reproducing that order makes zk-testserver indistinguishable from
//! real ZooKeeper even for clients that (wrongly) depend on it.
//!
//! The facts used (from OpenJDK's `HashMap`, `HashSet` and
//! `ConcurrentHashMap`): a `String`'s hash is `s[0]*31^(n-1) + … + s[n-1]`
//! over UTF-16 code units; tables spread it as `h ^ (h >>> 16)`; a key lives
//! in bucket `spread & (capacity - 1)`; iteration walks buckets in order
//! and, within a bucket, keys in insertion order (new keys join the tail,
//! resizes keep relative order). A `HashMap` table starts at its initial
//! capacity and doubles once it holds more than ¾ of it; it never shrinks.
//! A `ConcurrentHashMap` doubles once it holds ¾ of its capacity. Buckets
//! that turn into trees (8 colliding keys in a table of 64 or more) are not
//! modelled.

use std::collections::HashMap;

/// Java's `String.hashCode()`.
pub fn string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// The hash of a jute `Id { scheme, id }` record (jute's generated `hashCode`).
pub fn id_hash(scheme: &str, id: &str) -> i32 {
    let mut result: i32 = 17;
    result = result.wrapping_mul(37).wrapping_add(string_hash(scheme));
    result.wrapping_mul(37).wrapping_add(string_hash(id))
}

/// `HashMap.hash()`: the high half folded into the low half.
pub(crate) fn spread(h: i32) -> u32 {
    let h = h as u32;
    h ^ (h >> 16)
}

/// The table size of a `HashMap` created with `initial` capacity that has
/// held at most `max_len` keys.
pub(crate) fn hash_map_capacity(initial: usize, max_len: usize) -> usize {
    let mut cap = initial.max(1).next_power_of_two();
    while max_len > cap / 4 * 3 {
        cap *= 2;
    }
    cap
}

/// The table size of a `ConcurrentHashMap` created with the default
/// capacity that has held at most `max_len` keys.
fn concurrent_map_capacity(max_len: usize) -> usize {
    let mut cap = 16;
    while max_len >= cap / 4 * 3 {
        cap *= 2;
    }
    cap
}

/// The table size `HashMap.clone()` (and `new HashMap(map)`) picks for
/// `len` keys: `tableSizeFor((int) (len / 0.75f + 1))`.
fn cloned_capacity(len: usize) -> usize {
    let t = (len as f32 / 0.75f32 + 1.0f32) as usize;
    t.max(1).next_power_of_two()
}

/// The positions of `keys` (each a hash and an insertion sequence number,
/// unique within the set) in the order a table of `cap` buckets iterates
/// them: by bucket, then by sequence within a bucket.
///
/// A counting sort over the buckets, so the cost is that of walking the
/// table (keys plus buckets), as Java's iteration is, rather than a
/// comparison sort: a getChildren of a million children sorts nothing but
/// the few keys that share a bucket.
pub(crate) fn table_order(keys: &[(u32, u64)], cap: usize) -> Vec<usize> {
    let mask = cap - 1;
    let bucket = |h: u32| h as usize & mask;
    // First the end of each bucket's run, then (filling each run from its
    // end) its start: bucket b holds order[bounds[b]..bounds[b + 1]].
    let mut bounds = vec![0usize; cap + 1];
    for &(h, _) in keys {
        bounds[bucket(h)] += 1;
    }
    let mut end = 0;
    for b in bounds.iter_mut().take(cap) {
        end += *b;
        *b = end;
    }
    bounds[cap] = keys.len();
    let mut order = vec![0usize; keys.len()];
    for (i, &(h, _)) in keys.iter().enumerate() {
        let b = bucket(h);
        bounds[b] -= 1;
        order[bounds[b]] = i;
    }
    for run in bounds.windows(2) {
        if run[1] - run[0] > 1 {
            order[run[0]..run[1]].sort_unstable_by_key(|&i| keys[i].1);
        }
    }
    order
}

/// A set of strings that remembers what a Java `HashSet<String>` would, to
/// iterate in the same order: each key's insertion sequence and the largest
/// size the set ever had.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JavaHashSet {
    entries: HashMap<String, u64>,
    next_seq: u64,
    max_len: usize,
    initial_capacity: usize,
}

impl JavaHashSet {
    /// An empty set as `new HashSet<>(initial_capacity)` makes it
    /// (ZooKeeper uses 8 for children, 16 — the default — for ephemerals).
    pub fn with_capacity(initial_capacity: usize) -> JavaHashSet {
        JavaHashSet {
            entries: HashMap::new(),
            next_seq: 0,
            max_len: 0,
            initial_capacity,
        }
    }

    /// Adds `key`; false if it was already there (its position is kept).
    pub fn insert(&mut self, key: String) -> bool {
        if self.entries.contains_key(&key) {
            return false;
        }
        self.entries.insert(key, self.next_seq);
        self.next_seq += 1;
        self.max_len = self.max_len.max(self.entries.len());
        true
    }

    /// Removes `key`; the table keeps its size.
    pub fn remove(&mut self, key: &str) -> bool {
        self.entries.remove(key).is_some()
    }

    /// Whether `key` is in the set.
    pub fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The keys in no particular order (cheap).
    pub fn iter(&self) -> impl Iterator<Item = &String> {
        self.entries.keys()
    }

    /// The keys in the order Java iterates the set.
    pub fn java_order(&self) -> Vec<String> {
        let cap = hash_map_capacity(self.initial_capacity, self.max_len);
        let (keyed, keys): (Vec<(u32, u64)>, Vec<&String>) = self
            .entries
            .iter()
            .map(|(k, seq)| ((spread(string_hash(k)), *seq), k))
            .unzip();
        table_order(&keyed, cap)
            .into_iter()
            .map(|i| keys[i].clone())
            .collect()
    }

    /// A copy made as Java's `HashSet.clone()` makes it: a table sized for
    /// the current keys, filled in this set's iteration order.
    pub fn java_clone(&self) -> JavaHashSet {
        let mut copy = JavaHashSet::with_capacity(cloned_capacity(self.len()));
        for key in self.java_order() {
            copy.insert(key);
        }
        copy
    }
}

/// Orders a connection's identities as ZooKeeper's
/// `ConcurrentHashMap`-backed `authInfo` set iterates them; `ids` are in
/// the order they were added.
pub fn identity_order<T: Clone>(ids: &[(T, &str, &str)]) -> Vec<T> {
    let cap = concurrent_map_capacity(ids.len());
    let keyed: Vec<(u32, u64)> = ids
        .iter()
        .enumerate()
        .map(|(i, (_, scheme, id))| {
            // ConcurrentHashMap.spread also clears the sign bit, which does
            // not change the bucket.
            (spread(id_hash(scheme, id)), i as u64)
        })
        .collect();
    table_order(&keyed, cap)
        .into_iter()
        .map(|i| ids[i].0.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_hash_matches_java() {
        // Values of "…".hashCode() in Java.
        assert_eq!(string_hash(""), 0);
        assert_eq!(string_hash("a"), 97);
        assert_eq!(string_hash("zookeeper"), 1_600_681_804);
        assert_eq!(string_hash("hello world"), 1_794_106_052);
        // UTF-16 code units: one astral character is two units.
        assert_eq!(string_hash("\u{1F600}"), 1_772_899);
    }

    #[test]
    fn capacities_follow_the_java_rules() {
        assert_eq!(hash_map_capacity(8, 6), 8);
        assert_eq!(hash_map_capacity(8, 7), 16);
        assert_eq!(hash_map_capacity(16, 12), 16);
        assert_eq!(hash_map_capacity(16, 13), 32);
        assert_eq!(concurrent_map_capacity(11), 16);
        assert_eq!(concurrent_map_capacity(12), 32);
        assert_eq!(cloned_capacity(1), 2);
        assert_eq!(cloned_capacity(3), 8);
        assert_eq!(cloned_capacity(6), 16);
    }

    /// The counting sort orders as a sort by (bucket, sequence) does, with
    /// many keys per bucket as well as with empty buckets.
    #[test]
    fn table_order_is_by_bucket_then_sequence() {
        // A seeded linear congruential generator: the same keys every run.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 32) as u32
        };
        for (n, cap) in [(0, 16), (1, 16), (5, 8), (300, 64), (1000, 2048)] {
            // Sequence numbers unique and far from insertion order.
            let keys: Vec<(u32, u64)> = (0..n).map(|i| (next(), i * 7919 % 10_007)).collect();
            let mut expect: Vec<usize> = (0..keys.len()).collect();
            expect.sort_by_key(|&i| (keys[i].0 as usize & (cap - 1), keys[i].1));
            assert_eq!(table_order(&keys, cap), expect, "{n} keys, {cap} buckets");
        }
    }

    #[test]
    fn iteration_is_by_bucket_then_insertion() {
        // ZooKeeper's own /zookeeper node lists "config" before "quota".
        let mut set = JavaHashSet::with_capacity(8);
        set.insert("quota".into());
        set.insert("config".into());
        assert_eq!(set.java_order(), vec!["config", "quota"]);
        // Keys in one bucket keep insertion order.
        let mut set = JavaHashSet::with_capacity(8);
        let same_bucket: Vec<String> = (0..200)
            .map(|i| format!("k{i}"))
            .filter(|k| spread(string_hash(k)) & 7 == 3)
            .take(3)
            .collect();
        for k in same_bucket.iter().rev() {
            set.insert(k.clone());
        }
        let mut expect = same_bucket.clone();
        expect.reverse();
        assert_eq!(set.java_order(), expect);
        // Removing keys does not shrink the table.
        let mut set = JavaHashSet::with_capacity(8);
        for i in 0..20 {
            set.insert(format!("n{i}"));
        }
        for i in 3..20 {
            set.remove(&format!("n{i}"));
        }
        let cap = hash_map_capacity(8, 20);
        assert_eq!(cap, 32);
        let mut expect: Vec<String> = (0..3).map(|i| format!("n{i}")).collect();
        expect.sort_by_key(|k| spread(string_hash(k)) & 31);
        assert_eq!(set.java_order(), expect);
    }

    /// Orders printed by OpenJDK 17 for the same operations.
    #[test]
    fn orders_match_openjdk() {
        let mut u = JavaHashSet::with_capacity(8);
        for i in 0..30 {
            u.insert(format!("c-{}", i * 7 % 30));
        }
        u.remove("c-3");
        u.insert("zz".into());
        let java = "c-25, zz, c-24, c-27, c-26, c-21, c-20, c-1, c-23, c-0, c-22, c-2, c-5, c-4, \
                    c-7, c-6, c-9, c-8, c-29, c-28, c-14, c-13, c-16, c-15, c-10, c-12, c-11, \
                    c-18, c-17, c-19";
        assert_eq!(u.java_order().join(", "), java);
        let mut e = JavaHashSet::with_capacity(16);
        for i in 0..5 {
            e.insert(format!("/a/e{i}"));
        }
        assert_eq!(
            e.java_clone().java_order(),
            vec!["/a/e3", "/a/e2", "/a/e1", "/a/e0", "/a/e4"]
        );
    }

    #[test]
    fn identities_follow_the_concurrent_map_order() {
        let ids = [
            (0, "ip", "127.0.0.1"),
            (1, "digest", "u1:x"),
            (2, "digest", "u2:y"),
        ];
        let order = identity_order(&ids);
        let mut expect = vec![0, 1, 2];
        expect.sort_by_key(|&i| spread(id_hash(ids[i].1, ids[i].2)) & 15);
        assert_eq!(order, expect);
    }
}
