//! The client-side watch table: which watchers wait on which paths, which of
//! them an event fires, and what to re-register after a reconnect.
//!
//! Paths are stored as the server sees them (chroot included), because
//! notifications and SetWatches use server paths; events handed to watchers
//! carry client paths.
//!
//! A client may hold hundreds of thousands of watches, so an entry is kept
//! small: the path is stored once (shared by the by-path table and the
//! by-id index), and a path's watcher list starts with room for one.

use super::event::{WatchEvent, WatchedEvent};
use crate::connect_string::Chroot;
use crate::proto::{EventType, Request, SetWatches, SetWatches2, WatcherType};
use std::collections::HashMap;
use std::sync::Arc;

/// Identifies one registered watcher.
pub type WatcherId = u64;

/// The kind of a registered watcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WatchKind {
    /// One-shot, on an existing node's data (getData, or exists on an existing node).
    Data,
    /// One-shot, waiting for a missing node to appear (exists on a missing node).
    Exist,
    /// One-shot, on a node's child list.
    Child,
    /// Persistent, on one node.
    Persistent,
    /// Persistent, on a node and every descendant.
    PersistentRecursive,
}

impl WatchKind {
    const ALL: [WatchKind; 5] = [
        WatchKind::Data,
        WatchKind::Exist,
        WatchKind::Child,
        WatchKind::Persistent,
        WatchKind::PersistentRecursive,
    ];

    fn index(self) -> usize {
        self as usize
    }

    /// Whether the watcher stays after firing.
    pub fn is_persistent(self) -> bool {
        matches!(self, WatchKind::Persistent | WatchKind::PersistentRecursive)
    }

    /// Whether removeWatches/checkWatches with `t` addresses this kind.
    pub fn matches(self, t: WatcherType) -> bool {
        match t {
            WatcherType::Any => true,
            WatcherType::Data => matches!(self, WatchKind::Data | WatchKind::Exist),
            WatcherType::Children => self == WatchKind::Child,
            WatcherType::Persistent => self == WatchKind::Persistent,
            WatcherType::PersistentRecursive => self == WatchKind::PersistentRecursive,
        }
    }
}

/// Where a watcher's events go.
pub trait WatchSink {
    /// Delivers one event. Returns false if the receiver is gone, so the
    /// watcher can be dropped.
    fn deliver(&mut self, event: WatchEvent) -> bool;

    /// Whether anyone still receives this sink's events (a watch whose
    /// handle was dropped before its request was answered is not
    /// registered).
    fn is_alive(&self) -> bool {
        true
    }
}

struct Entry<W> {
    id: WatcherId,
    sink: W,
}

/// The watch table.
pub struct WatchRegistry<W> {
    by_kind: [HashMap<Arc<str>, Vec<Entry<W>>>; 5],
    index: HashMap<WatcherId, (WatchKind, Arc<str>)>,
}

impl<W> Default for WatchRegistry<W> {
    fn default() -> Self {
        WatchRegistry {
            by_kind: Default::default(),
            index: HashMap::new(),
        }
    }
}

/// Largest total path length per SetWatches packet (ZooKeeper's client uses 128 KiB).
const SET_WATCHES_BATCH_BYTES: usize = 128 * 1024;

impl<W: WatchSink> WatchRegistry<W> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of registered watchers.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no watcher is registered.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Registers a watcher on a server path.
    pub fn add(&mut self, kind: WatchKind, server_path: String, id: WatcherId, sink: W) {
        let map = &mut self.by_kind[kind.index()];
        let entry = Entry { id, sink };
        let path = match map.get_key_value(server_path.as_str()) {
            Some((path, _)) => path.clone(),
            None => Arc::from(server_path),
        };
        match map.get_mut(&path) {
            Some(list) => list.push(entry),
            // Most paths have one watcher of a kind: room for exactly one
            // (a first `push` would make room for four).
            None => {
                map.insert(path.clone(), vec![entry]);
            }
        }
        self.index.insert(id, (kind, path));
    }

    /// Unregisters one watcher (its handle was dropped). Returns its kind and
    /// path, and whether other watchers of the same kind remain on the path.
    pub fn remove(&mut self, id: WatcherId) -> Option<(WatchKind, String, bool)> {
        let (kind, path) = self.index.remove(&id)?;
        let map = &mut self.by_kind[kind.index()];
        let mut remaining = false;
        if let Some(list) = map.get_mut(&path) {
            list.retain(|e| e.id != id);
            remaining = !list.is_empty();
            if !remaining {
                map.remove(&path);
            }
        }
        Some((kind, path.to_string(), remaining))
    }

    /// Whether a watcher that `t` addresses exists on the path.
    pub fn has_matching(&self, server_path: &str, t: WatcherType) -> bool {
        WatchKind::ALL
            .iter()
            .filter(|k| k.matches(t))
            .any(|k| self.by_kind[k.index()].contains_key(server_path))
    }

    /// Removes every watcher `t` addresses on the path, telling each it was removed.
    /// Returns how many were removed.
    pub fn remove_matching(&mut self, server_path: &str, t: WatcherType) -> usize {
        let mut n = 0;
        for kind in WatchKind::ALL.iter().filter(|k| k.matches(t)) {
            if let Some(list) = self.by_kind[kind.index()].remove(server_path) {
                for mut e in list {
                    self.index.remove(&e.id);
                    e.sink.deliver(WatchEvent::Removed);
                    n += 1;
                }
            }
        }
        n
    }

    /// Delivers a server notification to every watcher it fires; one-shot
    /// watchers are removed. Returns how many watchers received it.
    pub fn fire(
        &mut self,
        event_type: EventType,
        server_path: &str,
        zxid: i64,
        chroot: &Chroot,
    ) -> usize {
        let event = WatchEvent::Node(WatchedEvent {
            event_type,
            path: chroot.to_client(server_path),
            zxid,
        });
        let one_shot: &[WatchKind] = match event_type {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                &[WatchKind::Data, WatchKind::Exist]
            }
            EventType::NodeChildrenChanged => &[WatchKind::Child],
            EventType::NodeDeleted => &[WatchKind::Data, WatchKind::Exist, WatchKind::Child],
            _ => &[],
        };
        let mut delivered = 0;
        for kind in one_shot {
            if let Some(list) = self.by_kind[kind.index()].remove(server_path) {
                for mut e in list {
                    self.index.remove(&e.id);
                    e.sink.deliver(event.clone());
                    delivered += 1;
                }
            }
        }
        if matches!(
            event_type,
            EventType::NodeCreated
                | EventType::NodeDeleted
                | EventType::NodeDataChanged
                | EventType::NodeChildrenChanged
        ) {
            delivered += self.deliver_persistent(WatchKind::Persistent, server_path, &event);
            if event_type != EventType::NodeChildrenChanged {
                let mut at = server_path;
                loop {
                    delivered +=
                        self.deliver_persistent(WatchKind::PersistentRecursive, at, &event);
                    if at == "/" {
                        break;
                    }
                    at = crate::proto::path::parent(at);
                }
            }
        }
        delivered
    }

    fn deliver_persistent(&mut self, kind: WatchKind, path: &str, event: &WatchEvent) -> usize {
        let Some(list) = self.by_kind[kind.index()].get_mut(path) else {
            return 0;
        };
        // A watcher whose reader is gone stays until its handle's drop
        // unregisters it (`remove`), which also tells the caller whether
        // the server-side watch is still needed.
        for e in list.iter_mut() {
            e.sink.deliver(event.clone());
        }
        list.len()
    }

    /// Tells every persistent watcher that events may have been missed.
    pub fn resync_persistent(&mut self) {
        for kind in [WatchKind::Persistent, WatchKind::PersistentRecursive] {
            for list in self.by_kind[kind.index()].values_mut() {
                for e in list.iter_mut() {
                    e.sink.deliver(WatchEvent::Resync);
                }
            }
        }
    }

    /// Ends every watcher with a terminal event and empties the table.
    pub fn end_all(&mut self, event: WatchEvent) {
        for map in self.by_kind.iter_mut() {
            for (_, list) in map.drain() {
                for mut e in list {
                    e.sink.deliver(event.clone());
                }
            }
        }
        self.index.clear();
    }

    /// The SetWatches / SetWatches2 requests that re-register every watch,
    /// batched so no packet carries more than 128 KiB of paths. SetWatches2
    /// is used for a batch that holds persistent watches.
    pub fn set_watches_requests(&self, relative_zxid: i64) -> Vec<Request> {
        let mut out = Vec::new();
        let mut batch = SetWatches2 {
            relative_zxid,
            ..SetWatches2::default()
        };
        let mut size = 0;
        for kind in WatchKind::ALL {
            let mut paths: Vec<&Arc<str>> = self.by_kind[kind.index()].keys().collect();
            paths.sort();
            for path in paths {
                if size > 0 && size + path.len() > SET_WATCHES_BATCH_BYTES {
                    out.push(finish_batch(std::mem::replace(
                        &mut batch,
                        SetWatches2 {
                            relative_zxid,
                            ..SetWatches2::default()
                        },
                    )));
                    size = 0;
                }
                size += path.len();
                let list = match kind {
                    WatchKind::Data => &mut batch.data_watches,
                    WatchKind::Exist => &mut batch.exist_watches,
                    WatchKind::Child => &mut batch.child_watches,
                    WatchKind::Persistent => &mut batch.persistent_watches,
                    WatchKind::PersistentRecursive => &mut batch.persistent_recursive_watches,
                };
                list.push(path.to_string());
            }
        }
        if size > 0 {
            out.push(finish_batch(batch));
        }
        out
    }
}

fn finish_batch(b: SetWatches2) -> Request {
    if b.persistent_watches.is_empty() && b.persistent_recursive_watches.is_empty() {
        Request::SetWatches(SetWatches {
            relative_zxid: b.relative_zxid,
            data_watches: b.data_watches,
            exist_watches: b.exist_watches,
            child_watches: b.child_watches,
        })
    } else {
        Request::SetWatches2(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    #[derive(Clone, Default)]
    struct Log(Rc<RefCell<Vec<(u64, WatchEvent)>>>);

    struct Sink {
        id: u64,
        log: Log,
        alive: bool,
    }

    impl WatchSink for Sink {
        fn deliver(&mut self, event: WatchEvent) -> bool {
            self.log.0.borrow_mut().push((self.id, event));
            self.alive
        }
    }

    fn reg() -> (WatchRegistry<Sink>, Log) {
        (WatchRegistry::new(), Log::default())
    }

    fn add(r: &mut WatchRegistry<Sink>, log: &Log, id: u64, kind: WatchKind, path: &str) {
        r.add(
            kind,
            path.into(),
            id,
            Sink {
                id,
                log: log.clone(),
                alive: true,
            },
        );
    }

    fn fired(log: &Log) -> Vec<u64> {
        let mut ids: Vec<u64> = log.0.borrow_mut().drain(..).map(|(id, _)| id).collect();
        ids.sort();
        ids
    }

    #[test]
    fn trigger_table() {
        let (mut r, log) = reg();
        let c = Chroot::default();
        add(&mut r, &log, 1, WatchKind::Data, "/a");
        add(&mut r, &log, 2, WatchKind::Exist, "/a");
        add(&mut r, &log, 3, WatchKind::Child, "/a");
        add(&mut r, &log, 4, WatchKind::Persistent, "/a");
        add(&mut r, &log, 5, WatchKind::PersistentRecursive, "/");
        add(&mut r, &log, 6, WatchKind::PersistentRecursive, "/a/b");
        r.fire(EventType::NodeDataChanged, "/a", 10, &c);
        assert_eq!(fired(&log), vec![1, 2, 4, 5]);
        r.fire(EventType::NodeChildrenChanged, "/a", 11, &c);
        assert_eq!(
            fired(&log),
            vec![3, 4],
            "recursive watchers never get NodeChildrenChanged"
        );
        r.fire(EventType::NodeCreated, "/a/b/c", 12, &c);
        assert_eq!(fired(&log), vec![5, 6]);
        r.fire(EventType::NodeDataChanged, "/a", 13, &c);
        assert_eq!(fired(&log), vec![4, 5], "one-shot watchers fired once");
        add(&mut r, &log, 7, WatchKind::Child, "/a");
        r.fire(EventType::NodeDeleted, "/a", 14, &c);
        assert_eq!(fired(&log), vec![4, 5, 7]);
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn events_carry_client_paths() {
        let (mut r, log) = reg();
        let c = Chroot::new(Some("/app".into()));
        add(&mut r, &log, 1, WatchKind::Data, "/app/x");
        r.fire(EventType::NodeDataChanged, "/app/x", 3, &c);
        let (_, ev) = log.0.borrow_mut().pop().unwrap();
        assert_eq!(
            ev,
            WatchEvent::Node(WatchedEvent {
                event_type: EventType::NodeDataChanged,
                path: "/x".into(),
                zxid: 3
            })
        );
    }

    #[test]
    fn a_path_is_stored_once() {
        let (mut r, log) = reg();
        add(&mut r, &log, 1, WatchKind::Data, "/a");
        add(&mut r, &log, 2, WatchKind::Data, "/a");
        let (key, list) = r.by_kind[WatchKind::Data.index()]
            .get_key_value("/a")
            .unwrap();
        assert_eq!(list.len(), 2);
        // The table's key and both index entries share one allocation.
        assert_eq!(Arc::strong_count(key), 3);
        assert!(r.index.values().all(|(_, p)| Arc::ptr_eq(p, key)));
        assert_eq!(r.remove(1), Some((WatchKind::Data, "/a".to_string(), true)));
        assert_eq!(
            r.remove(2),
            Some((WatchKind::Data, "/a".to_string(), false))
        );
        assert!(r.is_empty() && r.by_kind.iter().all(HashMap::is_empty));
    }

    #[test]
    fn remove_and_dead_sinks() {
        let (mut r, log) = reg();
        add(&mut r, &log, 1, WatchKind::Persistent, "/p");
        add(&mut r, &log, 2, WatchKind::Persistent, "/p");
        assert_eq!(
            r.remove(1),
            Some((WatchKind::Persistent, "/p".to_string(), true))
        );
        assert_eq!(
            r.remove(2),
            Some((WatchKind::Persistent, "/p".to_string(), false))
        );
        assert_eq!(r.remove(2), None);
        r.add(
            WatchKind::Persistent,
            "/p".into(),
            3,
            Sink {
                id: 3,
                log: log.clone(),
                alive: false,
            },
        );
        r.fire(EventType::NodeDataChanged, "/p", 1, &Chroot::default());
        assert_eq!(
            r.remove(3),
            Some((WatchKind::Persistent, "/p".to_string(), false)),
            "a watcher whose reader is gone stays until its handle unregisters it"
        );
    }

    #[test]
    fn remove_matching_by_type() {
        let (mut r, log) = reg();
        add(&mut r, &log, 1, WatchKind::Data, "/a");
        add(&mut r, &log, 2, WatchKind::Exist, "/a");
        add(&mut r, &log, 3, WatchKind::Child, "/a");
        assert!(r.has_matching("/a", WatcherType::Data));
        assert!(!r.has_matching("/a", WatcherType::Persistent));
        assert_eq!(r.remove_matching("/a", WatcherType::Data), 2);
        assert!(log
            .0
            .borrow()
            .iter()
            .all(|(_, e)| *e == WatchEvent::Removed));
        assert_eq!(r.remove_matching("/a", WatcherType::Any), 1);
        assert!(r.is_empty());
    }

    #[test]
    fn set_watches_batches() {
        let (mut r, log) = reg();
        add(&mut r, &log, 1, WatchKind::Data, "/d");
        add(&mut r, &log, 2, WatchKind::Child, "/c");
        let reqs = r.set_watches_requests(42);
        assert_eq!(
            reqs,
            vec![Request::SetWatches(SetWatches {
                relative_zxid: 42,
                data_watches: vec!["/d".into()],
                exist_watches: vec![],
                child_watches: vec!["/c".into()],
            })]
        );
        add(&mut r, &log, 3, WatchKind::PersistentRecursive, "/r");
        assert!(matches!(
            r.set_watches_requests(1)[..],
            [Request::SetWatches2(_)]
        ));
        let long = format!("/{}", "x".repeat(60 * 1024));
        for i in 0..4 {
            add(&mut r, &log, 10 + i, WatchKind::Data, &format!("{long}{i}"));
        }
        let reqs = r.set_watches_requests(1);
        assert!(reqs.len() >= 2, "batched at 128 KiB");
    }
}
