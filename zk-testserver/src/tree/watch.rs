//! Server-side watch registry with ZooKeeper's trigger rules.
//!
//! Like ZooKeeper, there are two tables: data watches (getData/exists,
//! persistent, persistent recursive) and child watches (getChildren,
//! persistent). Each (path, watcher) holds a set of modes, so a standard and a
//! persistent watch on the same path coexist (ZooKeeper 3.9 semantics).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use zk_client::proto::{path as zkpath, EventType};

/// Who receives events: a connection id.
pub type WatcherId = u64;

const STANDARD: u8 = 1;
const PERSISTENT: u8 = 2;
const RECURSIVE: u8 = 4;

/// Which table a watch lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// Data and exist watches.
    Data,
    /// Child watches.
    Child,
}

/// Which watch to add, check or remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerWatchKind {
    /// One-shot data/exist watch.
    Data,
    /// One-shot child watch.
    Child,
    /// Persistent watch on the node (data and child tables).
    Persistent,
    /// Persistent recursive watch on the node and its descendants.
    PersistentRecursive,
}

#[derive(Debug, Default, Clone)]
struct WatchTable {
    by_path: HashMap<Arc<str>, HashMap<WatcherId, u8>>,
    /// The paths each watcher has registrations on, so that closing a
    /// connection visits its own watches only (ZooKeeper's `watch2Paths`).
    by_watcher: HashMap<WatcherId, WatcherPaths>,
    /// Registrations with the RECURSIVE bit, so that a trigger knows in
    /// O(1) whether ancestors need a look (ZooKeeper keeps the same count,
    /// `recursiveWatchQty`).
    recursive: usize,
}

/// The paths one watcher may have registrations on. A registration that
/// ends (a one-shot watch firing, a removal) only counts `live` down, so a
/// change fired to many watchers costs one integer update each rather than
/// a path lookup each; the stale entries are swept when a registration
/// finds them outnumbering the live ones, which keeps the list within twice
/// the most registrations the watcher held at once (plus [`STALE_SLACK`]).
#[derive(Debug, Default, Clone)]
struct WatcherPaths {
    paths: Vec<Arc<str>>,
    live: usize,
}

/// Entries a watcher's path list may hold beyond twice its registrations
/// before it is swept.
const STALE_SLACK: usize = 16;

impl WatcherPaths {
    /// Counts one registration of this watcher gone; true if none is left.
    fn ended(&mut self) -> bool {
        self.live -= 1;
        self.live == 0
    }
}

impl WatchTable {
    fn add(&mut self, path: &str, w: WatcherId, mode: u8) {
        let key = match self.by_path.get_key_value(path) {
            Some((key, _)) => key.clone(),
            None => Arc::from(path),
        };
        let bits = self
            .by_path
            .entry(key.clone())
            .or_default()
            .entry(w)
            .or_default();
        let new = *bits == 0;
        if mode & RECURSIVE != 0 && *bits & RECURSIVE == 0 {
            self.recursive += 1;
        }
        *bits |= mode;
        if new {
            self.registered(w, key);
        }
    }

    /// Notes a new (path, watcher) registration in the watcher's list,
    /// sweeping the list when stale entries have piled up.
    fn registered(&mut self, w: WatcherId, path: Arc<str>) {
        let list = self.by_watcher.entry(w).or_default();
        list.paths.push(path);
        list.live += 1;
        if list.paths.len() >= 2 * list.live + STALE_SLACK {
            let by_path = &self.by_path;
            let mut seen = HashSet::with_capacity(list.live);
            list.paths.retain(|p| {
                by_path.get(p).is_some_and(|m| m.contains_key(&w)) && seen.insert(p.clone())
            });
            debug_assert_eq!(list.paths.len(), list.live);
        }
    }

    /// Counts a registration of `w` gone from its list.
    fn ended(by_watcher: &mut HashMap<WatcherId, WatcherPaths>, w: WatcherId) {
        if let Some(list) = by_watcher.get_mut(&w) {
            if list.ended() {
                by_watcher.remove(&w);
            }
        }
    }

    fn modes(&self, path: &str, w: WatcherId) -> u8 {
        self.by_path
            .get(path)
            .and_then(|m| m.get(&w))
            .copied()
            .unwrap_or(0)
    }

    /// Clears `mask` bits; true if any was set.
    fn remove(&mut self, path: &str, w: WatcherId, mask: u8) -> bool {
        let Some(m) = self.by_path.get_mut(path) else {
            return false;
        };
        let Some(bits) = m.get_mut(&w) else {
            return false;
        };
        let had = *bits & mask != 0;
        if *bits & mask & RECURSIVE != 0 {
            self.recursive -= 1;
        }
        *bits &= !mask;
        if *bits == 0 {
            m.remove(&w);
            Self::ended(&mut self.by_watcher, w);
        }
        if m.is_empty() {
            self.by_path.remove(path);
        }
        had
    }

    /// Drops every registration of `w`, visiting only its own paths.
    fn remove_watcher(&mut self, w: WatcherId) {
        let Some(list) = self.by_watcher.remove(&w) else {
            return;
        };
        for path in list.paths {
            let Some(m) = self.by_path.get_mut(&path) else {
                continue;
            };
            if m.remove(&w).is_some_and(|b| b & RECURSIVE != 0) {
                self.recursive -= 1;
            }
            if m.is_empty() {
                self.by_path.remove(&path);
            }
        }
    }

    fn has_recursive(&self) -> bool {
        self.recursive > 0
    }

    /// Watchers to notify for `event` on `path`; standard watches fire once.
    fn trigger(
        &mut self,
        path: &str,
        event: EventType,
        skip: &BTreeSet<WatcherId>,
    ) -> BTreeSet<WatcherId> {
        let mut out = BTreeSet::new();
        let by_watcher = &mut self.by_watcher;
        if let Some(m) = self.by_path.get_mut(path) {
            for (w, bits) in m.iter_mut() {
                if skip.contains(w) {
                    continue;
                }
                if *bits & (STANDARD | PERSISTENT) != 0
                    || (*bits & RECURSIVE != 0 && event != EventType::NodeChildrenChanged)
                {
                    out.insert(*w);
                }
                *bits &= !STANDARD;
            }
            m.retain(|w, b| {
                if *b == 0 {
                    Self::ended(by_watcher, *w);
                }
                *b != 0
            });
            if m.is_empty() {
                self.by_path.remove(path);
            }
        }
        if event != EventType::NodeChildrenChanged && self.has_recursive() {
            let mut p = path;
            while p != "/" {
                p = zkpath::parent(p);
                if let Some(m) = self.by_path.get(p) {
                    for (w, bits) in m {
                        if bits & RECURSIVE != 0 && !skip.contains(w) {
                            out.insert(*w);
                        }
                    }
                }
            }
        }
        out
    }

    fn count(&self) -> usize {
        self.by_path.values().map(|m| m.len()).sum()
    }
}

/// A fired watch: which connection, what happened, where, and the ACL that
/// decides whether the connection may see it (the node's, or the parent's
/// for NodeChildrenChanged; filled in by apply, empty = visible to all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    /// The connection to notify.
    pub watcher: WatcherId,
    /// The event type.
    pub event: EventType,
    /// The node path the event is about.
    pub path: String,
    /// READ on this ACL is needed to receive the event.
    pub acl: super::Acls,
}

/// The watch registry of one server.
#[derive(Debug, Default, Clone)]
pub struct WatchManager {
    data: WatchTable,
    child: WatchTable,
    /// Watchers that registered in the data table since they connected (as
    /// ZooKeeper's per-watcher path sets, which outlive the watches that
    /// fired until the connection closes; wchs/wchc count them).
    data_watchers: BTreeSet<WatcherId>,
}

impl WatchManager {
    /// Registers a watch.
    pub fn add(&mut self, path: &str, w: WatcherId, kind: ServerWatchKind) {
        if kind != ServerWatchKind::Child {
            self.data_watchers.insert(w);
        }
        match kind {
            ServerWatchKind::Data => self.data.add(path, w, STANDARD),
            ServerWatchKind::Child => self.child.add(path, w, STANDARD),
            ServerWatchKind::Persistent => {
                self.data.add(path, w, PERSISTENT);
                self.child.add(path, w, PERSISTENT);
            }
            ServerWatchKind::PersistentRecursive => self.data.add(path, w, RECURSIVE),
        }
    }

    /// Fires the watches for a change of `event` on `path`; `Table::Child` for
    /// child-list events. Returns each watcher at most once.
    fn fire(
        &mut self,
        table: Table,
        path: &str,
        event: EventType,
        skip: &BTreeSet<WatcherId>,
    ) -> BTreeSet<WatcherId> {
        match table {
            Table::Data => self.data.trigger(path, event, skip),
            Table::Child => self.child.trigger(path, event, skip),
        }
    }

    /// Events for the creation of `path`.
    pub fn node_created(&mut self, path: &str) -> Vec<Fired> {
        let mut out = self.events(Table::Data, path, EventType::NodeCreated, &BTreeSet::new());
        out.extend(self.parent_changed(path));
        out
    }

    /// Events for the deletion of `path`.
    pub fn node_deleted(&mut self, path: &str) -> Vec<Fired> {
        let data = self.fire(Table::Data, path, EventType::NodeDeleted, &BTreeSet::new());
        let child = self.fire(Table::Child, path, EventType::NodeDeleted, &data);
        let mut out: Vec<Fired> = data
            .into_iter()
            .chain(child)
            .map(|watcher| Fired {
                watcher,
                event: EventType::NodeDeleted,
                path: path.to_string(),
                acl: super::Acls::default(),
            })
            .collect();
        out.extend(self.parent_changed(path));
        out
    }

    /// Events for a data change of `path`.
    pub fn data_changed(&mut self, path: &str) -> Vec<Fired> {
        self.events(
            Table::Data,
            path,
            EventType::NodeDataChanged,
            &BTreeSet::new(),
        )
    }

    fn parent_changed(&mut self, path: &str) -> Vec<Fired> {
        if path == "/" {
            return Vec::new();
        }
        let parent = zkpath::parent(path);
        self.events(
            Table::Child,
            parent,
            EventType::NodeChildrenChanged,
            &BTreeSet::new(),
        )
    }

    fn events(
        &mut self,
        table: Table,
        path: &str,
        event: EventType,
        skip: &BTreeSet<WatcherId>,
    ) -> Vec<Fired> {
        self.fire(table, path, event, skip)
            .into_iter()
            .map(|watcher| Fired {
                watcher,
                event,
                path: path.to_string(),
                acl: super::Acls::default(),
            })
            .collect()
    }

    /// Whether `w` has a watch of `kind` on `path` (checkWatches).
    pub fn contains(&self, path: &str, w: WatcherId, kind: RemoveKind) -> bool {
        let (d, c) = kind.masks();
        self.data.modes(path, w) & d != 0 || self.child.modes(path, w) & c != 0
    }

    /// Removes watches of `kind`; true if any was removed (removeWatches).
    pub fn remove(&mut self, path: &str, w: WatcherId, kind: RemoveKind) -> bool {
        let (d, c) = kind.masks();
        let a = self.data.remove(path, w, d);
        let b = self.child.remove(path, w, c);
        a || b
    }

    /// checkWatches as ZooKeeper 3.8 answers it: a persistent watch also
    /// counts as a data and a child watch (3.8 registers it in both tables),
    /// a recursive one as both too.
    pub fn contains_3_8(&self, path: &str, w: WatcherId, kind: RemoveKind) -> bool {
        let (d, c) = kind.masks_3_8(true);
        self.data.modes(path, w) & d != 0 || self.child.modes(path, w) & c != 0
    }

    /// removeWatches as ZooKeeper 3.8 does it: removing data (child) watches
    /// also removes the data (child) side of persistent watches, so a
    /// persistent watch can lose one kind of event and keep the other.
    pub fn remove_3_8(&mut self, path: &str, w: WatcherId, kind: RemoveKind) -> bool {
        let recursive_child_side =
            kind == RemoveKind::Children && self.data.modes(path, w) & RECURSIVE != 0;
        let (d, c) = kind.masks_3_8(false);
        let a = self.data.remove(path, w, d);
        let b = self.child.remove(path, w, c);
        a || b || recursive_child_side
    }

    /// Drops every watch of a closed connection.
    pub fn remove_watcher(&mut self, w: WatcherId) {
        self.data.remove_watcher(w);
        self.child.remove_watcher(w);
        self.data_watchers.remove(&w);
    }

    /// (path, watcher) registrations as ZooKeeper's mntr `zk_watch_count`
    /// sums them: its data manager (data, exist, persistent, recursive
    /// watches) plus its child manager (child and persistent watches, and
    /// recursive ones too when `recursive_in_both`, as in 3.8; 3.9 keeps a
    /// recursive watch in the data manager only).
    pub fn count(&self, recursive_in_both: bool) -> usize {
        if !recursive_in_both {
            return self.data.count() + self.child.count();
        }
        let recursive_only = self
            .data
            .by_path
            .iter()
            .flat_map(|(p, m)| m.iter().map(move |(w, bits)| (p, w, bits)))
            .filter(|(p, w, bits)| *bits & RECURSIVE != 0 && self.child.modes(p, **w) == 0)
            .count();
        self.data.count() + self.child.count() + recursive_only
    }

    /// What ZooKeeper's `wchc`/`wchp`/`wchs` show: the paths of its data
    /// manager (data, exist, persistent and recursive watches; not child
    /// watches) by watcher, including watchers whose watches all fired.
    pub fn by_watcher(&self) -> HashMap<WatcherId, BTreeSet<String>> {
        let mut out: HashMap<WatcherId, BTreeSet<String>> = self
            .data_watchers
            .iter()
            .map(|w| (*w, BTreeSet::new()))
            .collect();
        for (p, m) in &self.data.by_path {
            for w in m.keys() {
                out.entry(*w).or_default().insert(p.to_string());
            }
        }
        out
    }
}

/// Which watches checkWatches/removeWatches address (the wire's WatcherType).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveKind {
    /// Standard child watches.
    Children,
    /// Standard data/exist watches.
    Data,
    /// Every watch on the path.
    Any,
    /// Persistent watches.
    Persistent,
    /// Persistent recursive watches.
    PersistentRecursive,
}

impl RemoveKind {
    /// (data table mask, child table mask).
    fn masks(self) -> (u8, u8) {
        match self {
            RemoveKind::Children => (0, STANDARD),
            RemoveKind::Data => (STANDARD, 0),
            RemoveKind::Any => (0xff, 0xff),
            RemoveKind::Persistent => (PERSISTENT, PERSISTENT),
            RemoveKind::PersistentRecursive => (RECURSIVE, 0),
        }
    }

    /// 3.8's masks for data and child kinds (persistent registrations sit in
    /// the standard tables); a recursive watch answers a child check there
    /// (`check`) but its child side carries no events, so nothing to remove.
    fn masks_3_8(self, check: bool) -> (u8, u8) {
        match self {
            RemoveKind::Children if check => (RECURSIVE, STANDARD | PERSISTENT),
            RemoveKind::Children => (0, STANDARD | PERSISTENT),
            RemoveKind::Data => (STANDARD | PERSISTENT | RECURSIVE, 0),
            other => other.masks(),
        }
    }

    /// Decodes the wire code (1..=5).
    pub fn from_code(code: i32) -> Option<RemoveKind> {
        Some(match code {
            1 => RemoveKind::Children,
            2 => RemoveKind::Data,
            3 => RemoveKind::Any,
            4 => RemoveKind::Persistent,
            5 => RemoveKind::PersistentRecursive,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventType::*;

    fn kinds(f: &[Fired]) -> Vec<(u64, EventType, &str)> {
        let mut v: Vec<_> = f
            .iter()
            .map(|f| (f.watcher, f.event, f.path.as_str()))
            .collect();
        v.sort_by_key(|x| (x.0, x.1.code()));
        v
    }

    #[test]
    fn trigger_table() {
        let mut m = WatchManager::default();
        // 1: data on /a, 2: child on /a, 3: child on /, 4: persistent /a,
        // 5: persistent /, 6: recursive /.
        m.add("/a", 1, ServerWatchKind::Data);
        m.add("/a", 2, ServerWatchKind::Child);
        m.add("/", 3, ServerWatchKind::Child);
        m.add("/a", 4, ServerWatchKind::Persistent);
        m.add("/", 5, ServerWatchKind::Persistent);
        m.add("/", 6, ServerWatchKind::PersistentRecursive);
        let f = m.node_created("/a");
        assert_eq!(
            kinds(&f),
            vec![
                (1, NodeCreated, "/a"),
                (3, NodeChildrenChanged, "/"),
                (4, NodeCreated, "/a"),
                (5, NodeChildrenChanged, "/"),
                (6, NodeCreated, "/a"),
            ]
        );
        // one-shot watches are gone; child watch on /a (2) untouched by create of /a.
        let f = m.data_changed("/a");
        assert_eq!(
            kinds(&f),
            vec![(4, NodeDataChanged, "/a"), (6, NodeDataChanged, "/a")]
        );
        m.add("/a", 1, ServerWatchKind::Data);
        let f = m.node_deleted("/a");
        assert_eq!(
            kinds(&f),
            vec![
                (1, NodeDeleted, "/a"),
                (2, NodeDeleted, "/a"),
                (4, NodeDeleted, "/a"),
                (5, NodeChildrenChanged, "/"),
                (6, NodeDeleted, "/a"),
            ]
        );
        // Recursive watchers see deep changes but never NodeChildrenChanged.
        let f = m.node_created("/x/y/z");
        assert_eq!(kinds(&f), vec![(6, NodeCreated, "/x/y/z")]);
    }

    #[test]
    fn one_event_per_watcher_and_removal() {
        let mut m = WatchManager::default();
        m.add("/a", 1, ServerWatchKind::Data);
        m.add("/a", 1, ServerWatchKind::Child);
        m.add("/a", 1, ServerWatchKind::Persistent);
        assert_eq!(m.node_deleted("/a").len(), 1);
        // The persistent watch survived.
        assert!(m.contains("/a", 1, RemoveKind::Persistent));
        assert!(!m.contains("/a", 1, RemoveKind::Data));
        assert!(m.remove("/a", 1, RemoveKind::Any));
        assert!(!m.remove("/a", 1, RemoveKind::Any));
        m.add("/b", 2, ServerWatchKind::PersistentRecursive);
        assert!(!m.remove("/b", 2, RemoveKind::Persistent));
        assert!(m.remove("/b", 2, RemoveKind::PersistentRecursive));
        m.add("/c", 3, ServerWatchKind::Child);
        m.remove_watcher(3);
        assert_eq!(m.count(true), 0);
    }

    #[test]
    fn recursive_count_follows_the_registrations() {
        let mut m = WatchManager::default();
        m.add("/r", 1, ServerWatchKind::PersistentRecursive);
        m.add("/r", 1, ServerWatchKind::PersistentRecursive);
        m.add("/r", 1, ServerWatchKind::Data);
        m.add("/s", 2, ServerWatchKind::PersistentRecursive);
        assert_eq!(m.data.recursive, 2);
        // Firing the standard watch leaves the recursive one.
        assert_eq!(m.node_deleted("/r").len(), 1);
        assert_eq!(m.data.recursive, 2);
        assert!(m.remove("/r", 1, RemoveKind::Any));
        assert_eq!(m.data.recursive, 1);
        m.remove_watcher(2);
        assert_eq!(m.data.recursive, 0);
        // With none left, deep changes notify nobody.
        assert!(m.node_created("/s/t").is_empty());
    }

    /// Closing a connection removes its registrations, and only its own,
    /// in both tables and whatever fired or was removed before.
    #[test]
    fn closing_a_watcher_removes_its_registrations_only() {
        let mut m = WatchManager::default();
        for w in 1..=3 {
            m.add("/shared", w, ServerWatchKind::Data);
            m.add("/shared", w, ServerWatchKind::Child);
            m.add(&format!("/own{w}"), w, ServerWatchKind::PersistentRecursive);
            m.add(&format!("/own{w}"), w, ServerWatchKind::Persistent);
        }
        // Watcher 2's data watch fires (and goes); its child watch stays.
        assert_eq!(m.data_changed("/shared").len(), 3);
        m.remove_watcher(2);
        assert!(!m.contains("/shared", 2, RemoveKind::Any));
        assert!(!m.contains("/own2", 2, RemoveKind::Any));
        assert!(m.contains("/shared", 1, RemoveKind::Children));
        assert!(m.contains("/own3", 3, RemoveKind::PersistentRecursive));
        assert_eq!(m.data.recursive, 2);
        assert!(!m.data.by_watcher.contains_key(&2));
        assert!(!m.child.by_watcher.contains_key(&2));
        m.remove_watcher(1);
        m.remove_watcher(3);
        assert_eq!(m.count(true), 0);
        assert!(m.data.by_path.is_empty() && m.child.by_path.is_empty());
        assert!(m.data.by_watcher.is_empty() && m.child.by_watcher.is_empty());
    }

    /// A watcher that re-arms a one-shot watch after every event (a config
    /// reader) or watches a new node each time (a lock waiter) keeps a path
    /// list within twice its registrations, and closing it still finds
    /// the one that is live.
    #[test]
    fn a_watchers_path_list_stays_bounded_as_watches_fire() {
        let mut m = WatchManager::default();
        m.add("/held", 7, ServerWatchKind::Persistent);
        for i in 0..10_000 {
            m.add("/config", 7, ServerWatchKind::Data);
            assert_eq!(m.data_changed("/config").len(), 1);
            let node = format!("/lock/n{i}");
            m.add(&node, 7, ServerWatchKind::Data);
            m.node_deleted(&node);
            // It never held more than three registrations at once.
            assert!(m.data.by_watcher[&7].paths.len() <= 2 * 3 + STALE_SLACK);
        }
        m.add("/config", 7, ServerWatchKind::Data);
        assert_eq!(m.data.by_watcher[&7].live, 2);
        m.remove_watcher(7);
        assert_eq!(m.count(true), 0);
        assert!(m.data.by_path.is_empty() && m.child.by_path.is_empty());
    }
}
