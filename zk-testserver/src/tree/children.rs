//! A node's children: each name with the child node it leads to, kept so
//! that they list in the order of ZooKeeper's `new HashSet<String>(8)` (see
//! [`java_order`](super::java_order)).
//!
//! The tree stores no full paths: a path is found by walking these tables
//! from the root, and each name is stored once, here. Names of up to
//! [`INLINE_NAME`] bytes live inside the table entry; leaves have no table.

use super::java_order::{hash_map_capacity, spread, string_hash, table_order};
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, DefaultHasher, Hash, Hasher};
use std::sync::Arc;

/// Index of a node in the tree's node store.
pub type NodeId = u32;

/// ZooKeeper keeps children in `new HashSet<String>(8)`: their listing order
/// follows from it.
pub const CHILDREN_INITIAL_CAPACITY: usize = 8;

/// Longest name stored without a heap allocation.
pub const INLINE_NAME: usize = 22;

/// A child name: short ones inline, longer ones on the heap.
#[derive(Clone)]
enum Name {
    Inline { len: u8, buf: [u8; INLINE_NAME] },
    Heap(Box<str>),
}

impl Name {
    fn new(s: &str) -> Name {
        if s.len() <= INLINE_NAME {
            let mut buf = [0; INLINE_NAME];
            buf[..s.len()].copy_from_slice(s.as_bytes());
            Name::Inline {
                len: s.len() as u8,
                buf,
            }
        } else {
            Name::Heap(s.into())
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // Copied from a str: always valid UTF-8.
            Name::Inline { len, buf } => {
                std::str::from_utf8(&buf[..usize::from(*len)]).unwrap_or("")
            }
            Name::Heap(s) => s,
        }
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Name {}

impl Hash for Name {
    // Must hash as the str does, for lookups by &str.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

/// One child: its insertion sequence number (for the Java order) and node.
#[derive(Debug, Clone, Copy)]
struct Child {
    seq: u32,
    id: NodeId,
}

/// The children of one node that ever had one.
#[derive(Debug, Default)]
struct Table {
    entries: HashMap<Name, Child, BuildHasherDefault<DefaultHasher>>,
    next_seq: u32,
    /// The largest number of children the node ever had (the Java table
    /// grew to hold it and never shrinks).
    max_len: usize,
}

#[cfg(test)]
thread_local! {
    /// Child entries copied on this thread (a table shared with an image is
    /// copied when first changed). Tests count them: a copy per insert
    /// makes filling a directory quadratic, which no timing-free test
    /// would notice otherwise.
    static COPIED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Child entries copied on this thread so far (see [`COPIED`]).
#[cfg(test)]
pub(crate) fn entries_copied_on_this_thread() -> usize {
    COPIED.with(std::cell::Cell::get)
}

impl Clone for Table {
    fn clone(&self) -> Table {
        #[cfg(test)]
        COPIED.with(|c| c.set(c.get() + self.entries.len()));
        Table {
            entries: self.entries.clone(),
            next_seq: self.next_seq,
            max_len: self.max_len,
        }
    }
}

impl Table {
    /// Renumbers the entries 0.. in their current order, when the sequence
    /// counter would overflow.
    fn renumber(&mut self) {
        let mut order: Vec<(u32, &mut Child)> =
            self.entries.values_mut().map(|c| (c.seq, c)).collect();
        order.sort_unstable_by_key(|(seq, _)| *seq);
        let mut next = 0u32;
        for (_, child) in order {
            child.seq = next;
            next += 1;
        }
        self.next_seq = next;
    }
}

/// The children of a node (see the module docs). The table is shared
/// between copies of the tree (a snapshot image and the live tree) until
/// one of them changes it.
#[derive(Debug, Clone, Default)]
pub struct Children(Option<Arc<Table>>);

impl Children {
    /// No children (and none ever).
    pub fn new() -> Children {
        Children(None)
    }

    /// Number of children.
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |t| t.entries.len())
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The node of child `name`.
    pub fn get(&self, name: &str) -> Option<NodeId> {
        self.0.as_ref()?.entries.get(name).map(|c| c.id)
    }

    /// Whether `name` is a child.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Adds child `name` leading to `id`; false (and no change) if the name
    /// is taken.
    pub fn insert(&mut self, name: &str, id: NodeId) -> bool {
        let table = Arc::make_mut(self.0.get_or_insert_with(Arc::default));
        if table.entries.contains_key(name) {
            return false;
        }
        if table.next_seq == u32::MAX {
            table.renumber();
        }
        let seq = table.next_seq;
        table.entries.insert(Name::new(name), Child { seq, id });
        table.next_seq += 1;
        table.max_len = table.max_len.max(table.entries.len());
        true
    }

    /// Removes child `name`, returning its node; the table keeps its size.
    pub fn remove(&mut self, name: &str) -> Option<NodeId> {
        Arc::make_mut(self.0.as_mut()?)
            .entries
            .remove(name)
            .map(|c| c.id)
    }

    /// Names and nodes, in no particular order (cheap).
    pub fn iter(&self) -> impl Iterator<Item = (&str, NodeId)> {
        self.0
            .iter()
            .flat_map(|t| t.entries.iter().map(|(n, c)| (n.as_str(), c.id)))
    }

    /// The names in the order ZooKeeper lists them.
    pub fn java_order(&self) -> Vec<String> {
        self.listing()
            .into_iter()
            .map(|(name, _)| name.to_string())
            .collect()
    }

    /// Names and nodes in the order ZooKeeper lists them.
    pub fn listing(&self) -> Vec<(&str, NodeId)> {
        let Some(t) = &self.0 else {
            return Vec::new();
        };
        let cap = hash_map_capacity(CHILDREN_INITIAL_CAPACITY, t.max_len);
        let mut keyed = Vec::with_capacity(t.entries.len());
        let mut children = Vec::with_capacity(t.entries.len());
        for (n, c) in &t.entries {
            let s = n.as_str();
            keyed.push((spread(string_hash(s)), u64::from(c.seq)));
            children.push((s, c.id));
        }
        table_order(&keyed, cap)
            .into_iter()
            .map(|i| children[i])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::java_order::JavaHashSet;

    /// The same operations on a `JavaHashSet` (the reference) and on
    /// `Children` list the same.
    #[test]
    fn lists_like_java_hash_set() {
        let mut reference = JavaHashSet::with_capacity(CHILDREN_INITIAL_CAPACITY);
        let mut children = Children::new();
        assert!(children.java_order().is_empty());
        let long = "a-name-longer-than-twenty-two-bytes";
        for i in 0..40 {
            let name = if i % 7 == 3 {
                format!("{long}{i}")
            } else {
                format!("c-{}", i * 7 % 40)
            };
            assert_eq!(
                reference.insert(name.clone()),
                children.insert(&name, i),
                "{name}"
            );
            if i % 5 == 4 {
                let gone = format!("c-{}", (i - 2) * 7 % 40);
                assert_eq!(reference.remove(&gone), children.remove(&gone).is_some());
            }
        }
        assert!(!children.insert("c-0", 99), "a taken name keeps its node");
        assert_eq!(children.get("c-0"), Some(0));
        assert_eq!(children.get(&format!("{long}3")), Some(3));
        assert_eq!(children.len(), reference.len());
        assert_eq!(children.java_order(), reference.java_order());
        let mut iterated: Vec<&str> = children.iter().map(|(n, _)| n).collect();
        iterated.sort_unstable();
        let mut expect = reference.java_order();
        expect.sort_unstable();
        assert_eq!(iterated, expect);
    }

    #[test]
    fn renumbering_keeps_the_order() {
        let mut children = Children::new();
        for (i, name) in ["x", "y", "z", "w"].into_iter().enumerate() {
            children.insert(name, i as NodeId);
        }
        let before = children.java_order();
        let table = Arc::make_mut(children.0.as_mut().unwrap());
        table.renumber();
        assert_eq!(table.next_seq, 4);
        assert_eq!(children.java_order(), before);
        // Forced overflow: the next insert renumbers first.
        Arc::make_mut(children.0.as_mut().unwrap()).next_seq = u32::MAX;
        children.insert("v", 9);
        let mut reference = JavaHashSet::with_capacity(CHILDREN_INITIAL_CAPACITY);
        for name in ["x", "y", "z", "w", "v"] {
            reference.insert(name.to_string());
        }
        assert_eq!(children.java_order(), reference.java_order());
    }
}
