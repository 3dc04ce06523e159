//! The data tree: every znode by path, plus the indexes the server needs
//! (ephemerals by session, containers, TTL nodes) and the watch registry.
//!
//! Mutations take the transaction's zxid and time as arguments, so applying
//! the same transactions in the same order gives the same tree everywhere.

use super::children::NodeId;
use super::java_order::JavaHashSet;
use super::node::{Acls, Node, NodeKind};
use super::watch::WatchManager;
use bytes::{BufMut, Bytes, BytesMut};
use sha1::{Digest as _, Sha1};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::io;
use std::sync::Arc;
use zk_client::proto::jute::JuteWrite;
use zk_client::proto::{path as zkpath, Acl, DecodeError, ErrorCode, Reader, Stat};

/// ZooKeeper keeps a session's ephemerals in a default `HashSet<String>`.
const EPHEMERALS_INITIAL_CAPACITY: usize = 16;

/// `/zookeeper`, the system subtree.
pub const ZOOKEEPER: &str = "/zookeeper";
/// `/zookeeper/quota`.
pub const QUOTA: &str = "/zookeeper/quota";
/// `/zookeeper/config`, read by getConfig.
pub const CONFIG: &str = "/zookeeper/config";

/// The root's place in the node store.
const ROOT: NodeId = 0;

#[cfg(test)]
thread_local! {
    /// Walks of a whole tree made on this thread. Tests count them: a walk
    /// per operation makes each operation cost time in proportion to the
    /// number of znodes, which no timing-free test would notice otherwise.
    static WALKS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Whole-tree walks made on this thread so far (see [`WALKS`]).
#[cfg(test)]
pub(crate) fn walks_on_this_thread() -> usize {
    WALKS.with(std::cell::Cell::get)
}

/// Counts one whole-tree walk (tests only).
fn count_walk() {
    #[cfg(test)]
    WALKS.with(|w| w.set(w.get() + 1));
}

/// Nodes per chunk of the node store.
const CHUNK: usize = 4096;

/// The znodes of one server.
///
/// Nodes live in a store indexed by [`NodeId`]; a path is resolved by
/// walking child tables from the root, so no full path is kept per node
/// (ZooKeeper keys a hash map by full paths; for small nodes the paths and
/// the per-node map entries were most of the memory). Data is copied into
/// an allocation of its own (never a view into a request or log buffer,
/// which would keep the whole buffer alive), and equal ACLs are shared.
#[derive(Debug, Clone)]
pub struct DataTree {
    nodes: NodeStore,
    acls: AclCache,
    /// The indexes are shared with images of the tree (see
    /// [`DataTree::image`]) until changed: a session's set, or the whole
    /// container or TTL set, is copied on its first change after an image.
    ephemerals: HashMap<i64, Arc<JavaHashSet>>,
    containers: Arc<BTreeSet<String>>,
    ttls: Arc<BTreeSet<String>>,
    /// Path length plus data length over every node, kept as nodes come,
    /// go and change (see [`DataTree::approximate_data_size`]).
    data_size: usize,
    /// Watches registered by this server's connections (not replicated).
    pub watches: WatchManager,
}

impl Default for DataTree {
    fn default() -> Self {
        DataTree::new()
    }
}

impl DataTree {
    /// A tree holding `/`, `/zookeeper`, `/zookeeper/quota` and
    /// `/zookeeper/config` as a fresh standalone ZooKeeper has them (created
    /// outside any transaction: zxids 0, child versions not bumped, the config
    /// node read-only for everyone with aversion -1).
    pub fn new() -> DataTree {
        let mut tree = DataTree::empty();
        let open = tree.acls.intern(&Acl::open_unsafe());
        let read = tree.acls.intern(&Acl::read_unsafe());
        let sys = |acl| Node::new(Some(Bytes::new()), acl, NodeKind::Persistent, 0, 0);
        let root = tree.nodes.insert(sys(open.clone()));
        debug_assert_eq!(root, ROOT);
        tree.attach(ROOT, "zookeeper", sys(open.clone()));
        let zk = tree.resolve(ZOOKEEPER).unwrap_or(ROOT);
        tree.attach(zk, "quota", sys(open));
        let mut config = sys(read);
        config.aversion = -1;
        tree.attach(zk, "config", config);
        tree.data_size = ["/", ZOOKEEPER, QUOTA, CONFIG]
            .iter()
            .map(|p| p.len())
            .sum();
        tree
    }

    fn empty() -> DataTree {
        DataTree {
            nodes: NodeStore::default(),
            acls: AclCache::default(),
            ephemerals: HashMap::new(),
            containers: Arc::default(),
            ttls: Arc::default(),
            data_size: 0,
            watches: WatchManager::default(),
        }
    }

    /// A copy of the replicated state (every node and index; no watches)
    /// that shares the nodes with this tree: it costs a pointer per
    /// 4 096 nodes and one per indexed session, and afterwards each side
    /// copies a chunk of nodes, a child table or an index when it first
    /// changes it. A snapshot keeps such an image instead of
    /// an encoding of the whole tree.
    pub fn image(&self) -> DataTree {
        DataTree {
            nodes: self.nodes.clone(),
            acls: self.acls.clone(),
            ephemerals: self.ephemerals.clone(),
            containers: self.containers.clone(),
            ttls: self.ttls.clone(),
            data_size: self.data_size,
            watches: WatchManager::default(),
        }
    }

    /// Stores `node` as child `name` of `parent` (which must exist).
    fn attach(&mut self, parent: NodeId, name: &str, node: Node) -> NodeId {
        let id = self.nodes.insert(node);
        if let Some(p) = self.nodes.get_mut(parent) {
            p.children.insert(name, id);
        }
        id
    }

    /// The node at `path`, found by walking from the root.
    fn resolve(&self, path: &str) -> Option<NodeId> {
        let rest = path.strip_prefix('/')?;
        if rest.is_empty() {
            return Some(ROOT);
        }
        let mut id = ROOT;
        for name in rest.split('/') {
            id = self.nodes.get(id)?.children.get(name)?;
        }
        Some(id)
    }

    /// The node at `path`.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(self.resolve(path)?)
    }

    fn get_mut(&mut self, path: &str) -> Option<&mut Node> {
        let id = self.resolve(path)?;
        self.nodes.get_mut(id)
    }

    /// Number of znodes as ZooKeeper reports it (mntr `zk_znode_count`,
    /// srvr "Node count"): ZooKeeper's tree holds the root under both "" and
    /// "/", so a fresh tree counts 5.
    pub fn node_count(&self) -> usize {
        self.nodes.len() + 1
    }

    /// Creates a node. `parent_cversion` is the parent's new stored cversion
    /// decided at preparation. Fails with NoNode / NodeExists if the tree
    /// disagrees with the preparation (never for a consistent log).
    #[allow(clippy::too_many_arguments)]
    pub fn create(
        &mut self,
        path: &str,
        data: Option<Bytes>,
        acl: &[Acl],
        kind: NodeKind,
        parent_cversion: i32,
        zxid: i64,
        time: i64,
    ) -> Result<Stat, ErrorCode> {
        if path == "/" {
            return Err(ErrorCode::NodeExists);
        }
        let name = zkpath::basename(path);
        let parent_id = self.resolve(zkpath::parent(path));
        if let Some(p) = parent_id.and_then(|p| self.nodes.get(p)) {
            if p.children.contains(name) {
                return Err(ErrorCode::NodeExists);
            }
        }
        let parent_id = parent_id.ok_or(ErrorCode::NoNode)?;
        let acl = self.acls.intern(acl);
        let node = Node::new(data.map(own), acl, kind, zxid, time);
        let stat = node.stat();
        self.data_size += path.len() + node.data_size();
        let id = self.nodes.insert(node);
        let parent = self.nodes.get_mut(parent_id).ok_or(ErrorCode::NoNode)?;
        parent.children.insert(name, id);
        parent.cversion = parent_cversion;
        parent.pzxid = zxid;
        self.index(path, kind);
        Ok(stat)
    }

    /// Adds `path` to the index of its kind (ephemerals, containers, TTLs).
    fn index(&mut self, path: &str, kind: NodeKind) {
        match kind {
            NodeKind::Ephemeral(s) => {
                let set = self.ephemerals.entry(s).or_insert_with(|| {
                    Arc::new(JavaHashSet::with_capacity(EPHEMERALS_INITIAL_CAPACITY))
                });
                Arc::make_mut(set).insert(path.to_string());
            }
            NodeKind::Container => {
                Arc::make_mut(&mut self.containers).insert(path.to_string());
            }
            NodeKind::Ttl(_) => {
                Arc::make_mut(&mut self.ttls).insert(path.to_string());
            }
            NodeKind::Persistent => {}
        }
    }

    /// Deletes a node (its parent's pzxid moves forward, cversion does not).
    /// A node with children is refused with NotEmpty (preparation never
    /// lets such a delete through).
    pub fn delete(&mut self, path: &str, zxid: i64) -> Result<(), ErrorCode> {
        if path == "/" {
            return Err(ErrorCode::BadArguments);
        }
        let parent_id = self
            .resolve(zkpath::parent(path))
            .ok_or(ErrorCode::NoNode)?;
        let name = zkpath::basename(path);
        let parent = self.nodes.get_mut(parent_id).ok_or(ErrorCode::NoNode)?;
        let id = parent.children.get(name).ok_or(ErrorCode::NoNode)?;
        if self.nodes.get(id).is_some_and(|n| !n.children.is_empty()) {
            return Err(ErrorCode::NotEmpty);
        }
        if let Some(parent) = self.nodes.get_mut(parent_id) {
            parent.children.remove(name);
            if zxid > parent.pzxid {
                parent.pzxid = zxid;
            }
        }
        let node = self.nodes.remove(id).ok_or(ErrorCode::NoNode)?;
        self.data_size = self.data_size.saturating_sub(path.len() + node.data_size());
        match node.kind() {
            NodeKind::Ephemeral(s) => {
                // Like ZooKeeper, the session's set stays (and keeps its
                // table size) until the session ends.
                if let Some(set) = self.ephemerals.get_mut(&s) {
                    if set.contains(path) {
                        Arc::make_mut(set).remove(path);
                    }
                }
            }
            NodeKind::Container => {
                if self.containers.contains(path) {
                    Arc::make_mut(&mut self.containers).remove(path);
                }
            }
            NodeKind::Ttl(_) => {
                if self.ttls.contains(path) {
                    Arc::make_mut(&mut self.ttls).remove(path);
                }
            }
            NodeKind::Persistent => {}
        }
        Ok(())
    }

    /// Replaces a node's data with version `version` (decided at preparation).
    pub fn set_data(
        &mut self,
        path: &str,
        data: Option<Bytes>,
        version: i32,
        zxid: i64,
        time: i64,
    ) -> Result<Stat, ErrorCode> {
        let node = self.get_mut(path).ok_or(ErrorCode::NoNode)?;
        let before = node.data_size();
        node.data = data.map(own);
        let after = node.data_size();
        node.version = version;
        node.mzxid = zxid;
        node.mtime = time;
        let stat = node.stat();
        self.data_size = (self.data_size + after).saturating_sub(before);
        Ok(stat)
    }

    /// Replaces a node's ACL with ACL version `aversion`.
    pub fn set_acl(&mut self, path: &str, acl: &[Acl], aversion: i32) -> Result<Stat, ErrorCode> {
        let id = self.resolve(path).ok_or(ErrorCode::NoNode)?;
        let acl = self.acls.intern(acl);
        let node = self.nodes.get_mut(id).ok_or(ErrorCode::NoNode)?;
        node.acl = acl;
        node.aversion = aversion;
        Ok(node.stat())
    }

    /// Ephemeral paths owned by `session`, in the order ZooKeeper lists
    /// them (its getEphemerals iterates a clone of the session's hash set).
    pub fn ephemerals(&self, session: i64) -> Vec<String> {
        self.ephemeral_set(session).java_order()
    }

    /// A copy of the session's ephemeral set as ZooKeeper copies it before
    /// closing the session (the deletion order follows from it).
    pub fn ephemeral_set(&self, session: i64) -> JavaHashSet {
        self.ephemerals
            .get(&session)
            .map(|set| set.java_clone())
            .unwrap_or_else(|| JavaHashSet::with_capacity(EPHEMERALS_INITIAL_CAPACITY))
    }

    /// Drops what the tree remembers of a session that ended.
    pub fn forget_session(&mut self, session: i64) {
        self.ephemerals.remove(&session);
    }

    /// Total number of ephemeral nodes (mntr `zk_ephemerals_count`).
    pub fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(|s| s.len()).sum()
    }

    /// Sessions owning ephemerals and their paths (for `dump`).
    pub fn ephemerals_by_session(&self) -> BTreeMap<i64, Vec<String>> {
        self.ephemerals
            .iter()
            .filter(|(_, p)| !p.is_empty())
            .map(|(s, p)| (*s, p.java_order()))
            .collect()
    }

    /// Number of descendants of `path` (not counting it). Iterative, so a
    /// very deep tree cannot overflow the stack.
    pub fn descendant_count(&self, path: &str) -> usize {
        let mut count = 0;
        let mut stack: Vec<NodeId> = self.resolve(path).into_iter().collect();
        while let Some(id) = stack.pop() {
            if let Some(node) = self.nodes.get(id) {
                for (_, child) in node.children.iter() {
                    count += 1;
                    stack.push(child);
                }
            }
        }
        count
    }

    /// Containers and TTL nodes the server should delete now (ZooKeeper's
    /// ContainerManager rules): containers that had a child and have none;
    /// childless TTL nodes whose `now_ms - mtime` exceeds their TTL.
    pub fn expired_containers(&self, now_ms: i64) -> Vec<String> {
        let mut out = Vec::new();
        for p in self.containers.iter() {
            if let Some(n) = self.get(p) {
                if n.children.is_empty() && n.cversion > 0 {
                    out.push(p.clone());
                }
            }
        }
        for p in self.ttls.iter() {
            if let Some(n) = self.get(p) {
                if let NodeKind::Ttl(ttl) = n.kind() {
                    if n.children.is_empty() && now_ms.saturating_sub(n.mtime) > ttl {
                        out.push(p.clone());
                    }
                }
            }
        }
        out
    }

    /// Calls `f` with every path and its node, parents before children, in
    /// `order`. Walks the tree with one path buffer instead of making a
    /// string per node; iterative, like [`DataTree::descendant_count`].
    ///
    /// Path order is not depth-first order: `/a-b` sorts between `/a` and
    /// `/a/c`. So each directory's entries are the keys `name` (the child
    /// itself) and `name/` (the block of its descendants, which is
    /// contiguous in path order), and the walk descends at a block entry.
    fn walk(&self, order: WalkOrder, mut f: impl FnMut(&str, &Node)) {
        struct Frame<'a> {
            entries: Vec<(&'a str, bool, NodeId)>,
            next: usize,
            base: usize,
        }
        count_walk();
        let Some(root) = self.nodes.get(ROOT) else {
            return;
        };
        let mut path = String::from("/");
        f(&path, root);
        let mut stack = vec![Frame {
            entries: self.walk_entries(root, order),
            next: 0,
            base: path.len(),
        }];
        while let Some(top) = stack.last_mut() {
            let Some(&(name, block, id)) = top.entries.get(top.next) else {
                stack.pop();
                continue;
            };
            top.next += 1;
            path.truncate(top.base);
            path.push_str(name);
            let Some(node) = self.nodes.get(id) else {
                continue;
            };
            if block {
                path.push('/');
                stack.push(Frame {
                    entries: self.walk_entries(node, order),
                    next: 0,
                    base: path.len(),
                });
            } else {
                f(&path, node);
            }
        }
    }

    /// The children of `node` as (name, is-descendant-block, node): each
    /// child, followed by the block of its descendants if it has any, in
    /// `order` (for path order, sorted by the keys `name` and `name/`; see
    /// [`DataTree::walk`]).
    fn walk_entries<'a>(
        &'a self,
        node: &'a Node,
        order: WalkOrder,
    ) -> Vec<(&'a str, bool, NodeId)> {
        let mut entries = Vec::with_capacity(node.children.len());
        let mut add = |name, id| {
            entries.push((name, false, id));
            if self.nodes.get(id).is_some_and(|n| !n.children.is_empty()) {
                entries.push((name, true, id));
            }
        };
        match order {
            WalkOrder::Path => node.children.iter().for_each(|(name, id)| add(name, id)),
            WalkOrder::Listing => node
                .children
                .listing()
                .into_iter()
                .for_each(|(name, id)| add(name, id)),
        }
        if order == WalkOrder::Path {
            entries.sort_unstable_by(|a, b| path_key(a.0, a.1).cmp(path_key(b.0, b.1)));
        }
        entries
    }

    /// Every path, sorted.
    pub fn paths(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.nodes.len());
        self.walk(WalkOrder::Path, |p, _| out.push(p.to_string()));
        out
    }

    /// A digest of the replicated content (paths, data, ACLs, stats): equal
    /// on every member that applied the same transactions.
    pub fn digest(&self) -> u64 {
        let mut h = Sha1::new();
        let mut buf = BytesMut::new();
        self.walk(WalkOrder::Path, |p, n| {
            buf.clear();
            encode_node(&mut buf, p, n);
            h.update(&buf);
        });
        let out = h.finalize();
        let mut b = [0u8; 8];
        b.copy_from_slice(&out[..8]);
        u64::from_be_bytes(b)
    }

    /// Calls `f` with every node and the length of its path, without
    /// building any path (depth first, in no particular order).
    fn for_each_path_len(&self, mut f: impl FnMut(usize, &Node)) {
        count_walk();
        // (node, length of its path)
        let mut stack = vec![(ROOT, 1)];
        while let Some((id, path_len)) = stack.pop() {
            let Some(n) = self.nodes.get(id) else {
                continue;
            };
            f(path_len, n);
            let prefix = if id == ROOT { 0 } else { path_len };
            for (name, child) in n.children.iter() {
                stack.push((child, prefix + 1 + name.len()));
            }
        }
    }

    /// The length of what [`DataTree::write_snapshot`] writes, so that the
    /// buffer can be allocated once at its final size.
    pub fn snapshot_len(&self) -> usize {
        let mut total = 4;
        self.for_each_path_len(|path_len, n| {
            let acl: usize = n
                .acl
                .iter()
                .map(|a| 4 + 4 + a.id.scheme.len() + 4 + a.id.id.len())
                .sum();
            total += 4 + path_len + 4 + n.data_size() + 4 + acl + 8 + 40 + 12;
        });
        total
    }

    /// mntr's `zk_approximate_data_size`: path length plus data length,
    /// summed over every node. A running total, as ZooKeeper keeps it: a
    /// four-letter word must not walk a large tree.
    pub fn approximate_data_size(&self) -> usize {
        self.data_size
    }

    /// Writes the snapshot encoding: node count, then each node, depth
    /// first, each directory's children in the order ZooKeeper lists them —
    /// the order ZooKeeper's own snapshots walk its tree in. Read back, every
    /// directory lists its children in that same order again (its Java hash
    /// set is refilled in iteration order), and no sorting of names is
    /// needed: path order cost a string sort of every directory per
    /// snapshot.
    pub fn write_snapshot(&self, buf: &mut BytesMut) {
        // Nothing is handed out, so nothing can fail.
        let _ = self.write_snapshot_pieces(buf, usize::MAX, &mut |_| Ok(()));
    }

    /// [`DataTree::write_snapshot`] in pieces: whenever `buf` holds `piece`
    /// bytes or more it goes to `emit` and is emptied, so the encoding of a
    /// large tree never has to be in memory at once. What is left in `buf`
    /// at the end is the caller's to emit. Stops at `emit`'s first error.
    pub fn write_snapshot_pieces(
        &self,
        buf: &mut BytesMut,
        piece: usize,
        emit: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        buf.put_i32(i32::try_from(self.nodes.len()).unwrap_or(i32::MAX));
        let mut result = Ok(());
        self.walk(WalkOrder::Listing, |p, n| {
            if result.is_err() {
                return;
            }
            encode_node(buf, p, n);
            if buf.len() >= piece {
                result = emit(buf);
                buf.clear();
            }
        });
        result
    }

    /// Reads a tree written by [`DataTree::write_snapshot`] (any order in
    /// which parents come before their children). Watches start empty.
    pub fn read_snapshot(r: &mut Reader) -> Result<DataTree, DecodeError> {
        let count = r.read_i32()?;
        let mut tree = DataTree::empty();
        for _ in 0..count.max(0) {
            let path = r.read_string()?;
            let data = r.read_buffer()?.map(own);
            let acl = r.read_vec::<Acl>()?;
            let kind = NodeKind::from_stored_owner(r.read_i64()?);
            let [czxid, mzxid, pzxid, ctime, mtime] = [
                r.read_i64()?,
                r.read_i64()?,
                r.read_i64()?,
                r.read_i64()?,
                r.read_i64()?,
            ];
            let mut node = Node::new(data, tree.acls.intern(&acl), kind, czxid, ctime);
            node.mzxid = mzxid;
            node.pzxid = pzxid;
            node.mtime = mtime;
            node.version = r.read_i32()?;
            node.cversion = r.read_i32()?;
            node.aversion = r.read_i32()?;
            let size = path.len() + node.data_size();
            if (path == "/") != tree.nodes.is_empty() {
                // The root comes first and only once; a node before it would
                // take the root's place and become its own child.
                return Err(DecodeError::Invalid("snapshot root not first"));
            }
            if path == "/" {
                tree.nodes.insert(node);
                tree.data_size += size;
                continue;
            }
            // Only what write_snapshot writes: valid paths, each once.
            if zkpath::validate_path(&path).is_err() {
                return Err(DecodeError::Invalid("snapshot node with an invalid path"));
            }
            if tree.resolve(&path).is_some() {
                return Err(DecodeError::Invalid("snapshot node twice"));
            }
            let parent = tree
                .resolve(zkpath::parent(&path))
                .ok_or(DecodeError::Invalid("snapshot node before its parent"))?;
            tree.attach(parent, zkpath::basename(&path), node);
            tree.index(&path, kind);
            tree.data_size += size;
        }
        if tree.nodes.is_empty() {
            return Err(DecodeError::Invalid("snapshot without root"));
        }
        Ok(tree)
    }
}

/// The order of a [`DataTree::walk`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WalkOrder {
    /// Byte-wise path order, as sorting the path strings would give (digests,
    /// listings of every path).
    Path,
    /// Depth first, each directory's children in the order ZooKeeper lists
    /// them (snapshots, as ZooKeeper writes its own).
    Listing,
}

/// The sort key of a directory entry: `name`, or `name/` for the block of
/// its descendants.
fn path_key(name: &str, block: bool) -> impl Iterator<Item = u8> + '_ {
    name.bytes().chain(block.then_some(b'/'))
}

/// `data` in an allocation of its own (see [`DataTree`]).
fn own(data: Bytes) -> Bytes {
    Bytes::copy_from_slice(&data)
}

fn encode_node(b: &mut BytesMut, path: &str, n: &Node) {
    b.put_jute_string(path);
    b.put_jute_buffer(n.data.as_deref());
    b.put_jute_vec(&n.acl);
    b.put_i64(n.owner());
    for v in [n.czxid, n.mzxid, n.pzxid, n.ctime, n.mtime] {
        b.put_i64(v);
    }
    for v in [n.version, n.cversion, n.aversion] {
        b.put_i32(v);
    }
}

/// The nodes, in fixed-size chunks (no reallocation of everything as the
/// tree grows, and at most one partly used chunk); freed places are reused.
///
/// Chunks are shared between copies of the store: cloning the store (a
/// snapshot image, see [`DataTree::image`]) copies one pointer per chunk,
/// and a chunk is copied only when one side first changes a node in it.
#[derive(Debug, Clone, Default)]
struct NodeStore {
    chunks: Vec<Arc<Vec<Option<Node>>>>,
    free: Vec<NodeId>,
    len: usize,
}

impl NodeStore {
    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn slot(&self, id: NodeId) -> Option<&Option<Node>> {
        let i = id as usize;
        self.chunks.get(i / CHUNK)?.get(i % CHUNK)
    }

    fn slot_mut(&mut self, id: NodeId) -> Option<&mut Option<Node>> {
        let i = id as usize;
        chunk_mut(self.chunks.get_mut(i / CHUNK)?).get_mut(i % CHUNK)
    }

    fn get(&self, id: NodeId) -> Option<&Node> {
        self.slot(id)?.as_ref()
    }

    fn get_mut(&mut self, id: NodeId) -> Option<&mut Node> {
        self.slot_mut(id)?.as_mut()
    }

    fn insert(&mut self, node: Node) -> NodeId {
        self.len += 1;
        if let Some(id) = self.free.pop() {
            if let Some(slot) = self.slot_mut(id) {
                *slot = Some(node);
                return id;
            }
        }
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push(Arc::new(Vec::with_capacity(CHUNK)));
        }
        let index = (self.chunks.len() - 1) * CHUNK;
        let chunk = chunk_mut(
            self.chunks
                .last_mut()
                .expect("a chunk with room was just ensured"),
        );
        let id = index + chunk.len();
        chunk.push(Some(node));
        NodeId::try_from(id).expect("more than 2^32 znodes")
    }

    fn remove(&mut self, id: NodeId) -> Option<Node> {
        let node = self.slot_mut(id)?.take()?;
        self.len -= 1;
        self.free.push(id);
        Some(node)
    }
}

/// A chunk to change: itself if no other copy of the store shares it, else
/// a copy of it (with room for a whole chunk, as the last one fills up).
/// Copying a node is cheap: data, ACL and child table are shared pointers.
fn chunk_mut(chunk: &mut Arc<Vec<Option<Node>>>) -> &mut Vec<Option<Node>> {
    if Arc::get_mut(chunk).is_none() {
        let mut copy = Vec::with_capacity(CHUNK);
        copy.extend(chunk.iter().cloned());
        *chunk = Arc::new(copy);
    }
    Arc::make_mut(chunk)
}

/// Interned ACLs: nodes with equal ACLs share one allocation. Entries no
/// node uses any more are dropped when the cache has doubled since the
/// last sweep.
#[derive(Debug, Clone, Default)]
struct AclCache {
    by_hash: HashMap<u64, Vec<Acls>>,
    len: usize,
    sweep_at: usize,
}

impl AclCache {
    fn intern(&mut self, acl: &[Acl]) -> Acls {
        let key = acl_hash(acl);
        if let Some(found) = self
            .by_hash
            .get(&key)
            .and_then(|v| v.iter().find(|a| a[..] == *acl))
        {
            return found.clone();
        }
        if self.len >= self.sweep_at {
            self.sweep();
        }
        let shared = Acls::new(acl.to_vec());
        self.by_hash.entry(key).or_default().push(shared.clone());
        self.len += 1;
        shared
    }

    fn sweep(&mut self) {
        self.by_hash.retain(|_, v| {
            v.retain(|a| Arc::strong_count(a) > 1);
            !v.is_empty()
        });
        self.len = self.by_hash.values().map(Vec::len).sum();
        self.sweep_at = (2 * self.len).max(64);
    }
}

fn acl_hash(acl: &[Acl]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    for a in acl {
        a.perms.hash(&mut h);
        a.id.scheme.hash(&mut h);
        a.id.id.hash(&mut h);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_tree_matches_standalone_zookeeper() {
        let t = DataTree::new();
        let root = t.get("/").unwrap().stat();
        assert_eq!((root.cversion, root.num_children, root.pzxid), (-1, 1, 0));
        let zk = t.get(ZOOKEEPER).unwrap().stat();
        assert_eq!((zk.cversion, zk.num_children), (-2, 2));
        let cfg = t.get(CONFIG).unwrap();
        assert_eq!(cfg.stat().aversion, -1);
        assert_eq!(cfg.acl[..], Acl::read_unsafe()[..]);
        assert_eq!(t.node_count(), 5, "root counted twice, as ZooKeeper does");
    }

    #[test]
    fn create_delete_stats_and_snapshot() {
        let mut t = DataTree::new();
        t.create(
            "/a",
            None,
            &Acl::open_unsafe(),
            NodeKind::Persistent,
            1,
            5,
            100,
        )
        .unwrap();
        t.create(
            "/a/b",
            Some(Bytes::from_static(b"xy")),
            &[],
            NodeKind::Ephemeral(9),
            1,
            6,
            101,
        )
        .unwrap();
        assert_eq!(
            t.create("/a/b", None, &[], NodeKind::Persistent, 1, 7, 0),
            Err(ErrorCode::NodeExists)
        );
        assert_eq!(
            t.create("/x/y", None, &[], NodeKind::Persistent, 1, 7, 0),
            Err(ErrorCode::NoNode)
        );
        let a = t.get("/a").unwrap().stat();
        assert_eq!((a.cversion, a.pzxid, a.num_children), (1, 6, 1));
        assert_eq!(t.ephemerals(9), vec!["/a/b".to_string()]);
        assert_eq!(t.descendant_count("/"), 5);
        let mut buf = BytesMut::new();
        t.write_snapshot(&mut buf);
        let back = DataTree::read_snapshot(&mut Reader::new(buf.freeze())).unwrap();
        assert_eq!(back.digest(), t.digest());
        assert_eq!(back.ephemerals(9), t.ephemerals(9));
        t.delete("/a/b", 8).unwrap();
        let a = t.get("/a").unwrap().stat();
        assert_eq!((a.cversion, a.pzxid, a.num_children), (2, 8, 0));
        assert!(t.ephemerals(9).is_empty());
        assert_ne!(back.digest(), t.digest());
    }

    #[test]
    fn container_and_ttl_candidates() {
        let mut t = DataTree::new();
        t.create("/c", None, &[], NodeKind::Container, 1, 1, 0)
            .unwrap();
        t.create("/t", None, &[], NodeKind::Ttl(100), 2, 2, 1000)
            .unwrap();
        assert!(t.expired_containers(1100).is_empty());
        assert_eq!(t.expired_containers(1101), vec!["/t".to_string()]);
        t.create("/c/x", None, &[], NodeKind::Persistent, 1, 3, 0)
            .unwrap();
        t.delete("/c/x", 4).unwrap();
        assert_eq!(t.expired_containers(0), vec!["/c".to_string()]);
    }

    /// Names whose order differs between path order and depth-first order
    /// (`-` and `.` sort before `/`).
    fn awkward_tree() -> DataTree {
        let mut t = DataTree::new();
        let mut zxid = 10;
        for p in [
            "/a", "/a-b", "/a/c", "/a/c.d", "/a/c/e", "/a.x", "/a-b/z", "/b", "/a/c-", "/a/c-/f",
            "/ab", "/a!", "/a!/q",
        ] {
            zxid += 1;
            t.create(
                p,
                Some(Bytes::from(p.to_string())),
                &Acl::open_unsafe(),
                NodeKind::Persistent,
                1,
                zxid,
                zxid,
            )
            .unwrap();
        }
        t
    }

    #[test]
    fn path_order_is_string_order() {
        let t = awkward_tree();
        let paths = t.paths();
        let mut sorted = paths.clone();
        sorted.sort();
        assert_eq!(paths, sorted);
        assert_eq!(paths.len(), t.node_count() - 1);
        let mut snap = BytesMut::new();
        t.write_snapshot(&mut snap);
        assert_eq!(t.snapshot_len(), snap.len());
        let back = DataTree::read_snapshot(&mut Reader::new(snap.freeze())).unwrap();
        assert_eq!(back.paths(), paths);
        assert_eq!(back.digest(), t.digest());
    }

    /// Every path of `t` as ZooKeeper's snapshot walk visits them: depth
    /// first, children in listing order (written recursively, unlike the
    /// tree's own walk).
    fn listing_walk(t: &DataTree, path: &str, out: &mut Vec<String>) {
        out.push(path.to_string());
        let prefix = if path == "/" { "" } else { path };
        for name in t.get(path).unwrap().children.java_order() {
            listing_walk(t, &format!("{prefix}/{name}"), out);
        }
    }

    /// A snapshot walks the tree as ZooKeeper's does, and a tree read back
    /// lists every directory's children in the same order as the original —
    /// here a directory of 200 children created far from name order, where
    /// restoring in path order changed 53 positions of the listing.
    #[test]
    fn snapshot_keeps_the_listing_order() {
        let mut t = awkward_tree();
        let names = (0..200).rev().map(|i| format!("/d/x{}", (i * 7919) % 1000));
        for (zxid, path) in (100..).zip(std::iter::once("/d".to_string()).chain(names)) {
            t.create(
                &path,
                None,
                &Acl::open_unsafe(),
                NodeKind::Persistent,
                1,
                zxid,
                zxid,
            )
            .unwrap();
        }
        let mut snap = BytesMut::new();
        t.write_snapshot(&mut snap);
        let mut walk = Vec::new();
        listing_walk(&t, "/", &mut walk);
        let mut expect = BytesMut::new();
        expect.put_i32(walk.len() as i32);
        for p in &walk {
            encode_node(&mut expect, p, t.get(p).unwrap());
        }
        assert_eq!(snap, expect);
        let back = DataTree::read_snapshot(&mut Reader::new(snap.freeze())).unwrap();
        assert_eq!(back.digest(), t.digest());
        for p in t.paths() {
            assert_eq!(
                back.get(&p).unwrap().children.java_order(),
                t.get(&p).unwrap().children.java_order(),
                "listing of {p}"
            );
        }
    }

    #[test]
    fn shared_acls_own_data_and_reused_places() {
        let mut t = DataTree::new();
        let frame = Bytes::from_static(b"header|payload|trailer");
        let data = frame.slice(7..14);
        t.create(
            "/x",
            Some(data.clone()),
            &Acl::open_unsafe(),
            NodeKind::Persistent,
            1,
            1,
            0,
        )
        .unwrap();
        t.create(
            "/y",
            None,
            &Acl::open_unsafe(),
            NodeKind::Persistent,
            2,
            2,
            0,
        )
        .unwrap();
        let (x, y) = (t.get("/x").unwrap(), t.get("/y").unwrap());
        assert!(
            std::sync::Arc::ptr_eq(&x.acl, &y.acl),
            "equal ACLs are shared"
        );
        assert!(std::sync::Arc::ptr_eq(&x.acl, &t.get("/").unwrap().acl));
        let stored = x.data.as_ref().unwrap();
        assert_eq!(stored, &data);
        assert_ne!(
            stored.as_ptr(),
            data.as_ptr(),
            "the data is copied out of the frame"
        );
        // A node with children is not deleted; a freed place is reused.
        t.create("/x/c", None, &[], NodeKind::Persistent, 1, 3, 0)
            .unwrap();
        assert_eq!(t.delete("/x", 4), Err(ErrorCode::NotEmpty));
        t.delete("/x/c", 5).unwrap();
        let before = t.nodes.chunks.iter().map(|c| c.len()).sum::<usize>();
        t.create("/z", None, &[], NodeKind::Persistent, 3, 6, 0)
            .unwrap();
        assert_eq!(
            t.nodes.chunks.iter().map(|c| c.len()).sum::<usize>(),
            before
        );
        assert!(t.get("/x/c").is_none());
        assert_eq!(t.node_count(), 8);
        assert_eq!(t.descendant_count("/"), 6);
    }

    #[test]
    fn an_image_stays_as_it_was_while_the_tree_changes() {
        let mut t = DataTree::new();
        let open = Acl::open_unsafe();
        // More than a chunk of nodes, so that changes land in shared
        // chunks, the last (partly filled) chunk and new ones.
        let leaves = CHUNK + 100;
        t.create("/d", None, &open, NodeKind::Persistent, 0, 1, 0)
            .unwrap();
        for i in 0..leaves {
            let path = format!("/d/n{i}");
            let data = Some(Bytes::from(format!("v{i}")));
            t.create(&path, data, &open, NodeKind::Ephemeral(7), i as i32, 2, 0)
                .unwrap();
        }
        t.create("/t", None, &open, NodeKind::Ttl(10), 0, 2, 0)
            .unwrap();
        let image = t.image();
        let mut frozen = BytesMut::new();
        image.write_snapshot(&mut frozen);
        let digest = image.digest();
        assert_eq!(digest, t.digest());

        // Change the live tree everywhere: data, ACL, children, deletes,
        // creates (reusing freed places and filling chunks).
        t.set_data("/d/n0", Some(Bytes::from_static(b"changed")), 1, 3, 1)
            .unwrap();
        t.set_acl("/d/n1", &Acl::read_unsafe(), 1).unwrap();
        for i in (0..leaves).step_by(3) {
            t.delete(&format!("/d/n{i}"), 4).unwrap();
        }
        for i in 0..CHUNK {
            let path = format!("/e{i}");
            t.create(&path, None, &open, NodeKind::Persistent, i as i32, 5, 0)
                .unwrap();
        }
        t.delete("/t", 5).unwrap();
        assert_ne!(t.digest(), digest);

        let mut again = BytesMut::new();
        image.write_snapshot(&mut again);
        assert_eq!(again, frozen, "the image's encoding did not change");
        assert_eq!(image.digest(), digest);
        assert_eq!(
            image.get("/d/n0").unwrap().data.as_deref(),
            Some(&b"v0"[..])
        );
        assert_eq!(image.ephemerals(7).len(), leaves);
        assert!(image.get("/e0").is_none());
        assert_eq!(image.expired_containers(1000), ["/t"]);
        assert!(t.expired_containers(1000).is_empty());
        assert_eq!(t.ephemerals(7).len(), leaves - leaves.div_ceil(3));

        // And the other way round: changing a copy of the image leaves the
        // live tree alone.
        let live = t.digest();
        let mut restored = image.image();
        restored.delete("/d/n2", 6).unwrap();
        assert_eq!(t.digest(), live);
        assert!(t.get("/d/n2").is_some());
        assert_eq!(image.digest(), digest);
    }

    /// Filling a directory costs each create a bounded amount of work: no
    /// walk of the tree, and no copy of the child table except the one copy
    /// of a table an image shares, on its first change after the image.
    #[test]
    fn filling_a_directory_copies_its_children_once_per_image() {
        use crate::tree::children::entries_copied_on_this_thread as copied;
        let open = Acl::open_unsafe();
        let fill = |t: &mut DataTree, from: i32, to: i32| {
            for i in from..to {
                let path = format!("/d/c{i:07}");
                t.create(&path, None, &open, NodeKind::Persistent, i + 1, 2, 0)
                    .unwrap();
            }
        };
        let mut t = DataTree::new();
        t.create("/d", None, &open, NodeKind::Persistent, 0, 1, 0)
            .unwrap();
        let (copies, walks) = (copied(), walks_on_this_thread());
        fill(&mut t, 0, 3000);
        assert_eq!(copied(), copies, "no image: nothing copied");
        let image = t.image();
        fill(&mut t, 3000, 6000);
        assert_eq!(
            copied() - copies,
            3000,
            "the 3000 children the image shares are copied once"
        );
        assert_eq!(walks_on_this_thread(), walks, "a create walked the tree");
        assert_eq!(image.get("/d").unwrap().children.len(), 3000);
        assert_eq!(t.get("/d").unwrap().children.len(), 6000);
    }

    #[test]
    fn snapshot_pieces_concatenate_to_the_encoding() {
        let mut t = DataTree::new();
        for i in 0..500 {
            let path = format!("/p{i}");
            t.create(
                &path,
                Some(Bytes::from(vec![7; 100])),
                &Acl::open_unsafe(),
                NodeKind::Persistent,
                i,
                1,
                0,
            )
            .unwrap();
        }
        let mut whole = BytesMut::new();
        t.write_snapshot(&mut whole);
        let mut pieces = Vec::new();
        let mut buf = BytesMut::new();
        t.write_snapshot_pieces(&mut buf, 1000, &mut |p| {
            pieces.push(p.len());
            Ok(())
        })
        .unwrap();
        assert!(pieces.len() > 10, "{} pieces", pieces.len());
        assert!(
            pieces.iter().all(|&n| (1000..1300).contains(&n)),
            "{pieces:?}"
        );
        let mut joined = BytesMut::new();
        t.write_snapshot_pieces(&mut joined, usize::MAX, &mut |_| Ok(()))
            .unwrap();
        assert_eq!(joined, whole);
        // An error stops the walk and comes back.
        let mut calls = 0;
        let err = t
            .write_snapshot_pieces(&mut BytesMut::new(), 1000, &mut |_| {
                calls += 1;
                Err(io::Error::other("disk full"))
            })
            .unwrap_err();
        assert_eq!((calls, err.to_string().as_str()), (1, "disk full"));
    }

    #[test]
    fn approximate_data_size_is_kept_as_the_tree_changes() {
        // The running total against a walk over every node.
        fn walked(t: &DataTree) -> usize {
            let mut total = 0;
            t.for_each_path_len(|len, n| total += len + n.data_size());
            total
        }
        let mut t = DataTree::new();
        // "/" 1, "/zookeeper" 10, "/zookeeper/quota" 16, "/zookeeper/config" 17.
        assert_eq!(t.approximate_data_size(), 44);
        let open = Acl::open_unsafe();
        let data = |n: usize| Some(Bytes::from(vec![b'x'; n]));
        t.create("/a", data(5), &open, NodeKind::Persistent, 0, 1, 0)
            .unwrap();
        t.create("/a/bc", None, &open, NodeKind::Ephemeral(3), 0, 2, 0)
            .unwrap();
        assert_eq!(t.approximate_data_size(), 44 + 2 + 5 + 5);
        let image = t.image();
        t.set_data("/a", data(50), 1, 3, 0).unwrap();
        t.set_data("/a/bc", data(7), 1, 4, 0).unwrap();
        t.set_data("/a", None, 2, 5, 0).unwrap();
        assert_eq!(t.approximate_data_size(), walked(&t));
        t.delete("/a/bc", 6).unwrap();
        assert_eq!(t.approximate_data_size(), 44 + 2);
        assert_eq!(
            t.delete("/nothing", 7),
            Err(ErrorCode::NoNode),
            "a refused delete changes nothing"
        );
        assert_eq!(t.approximate_data_size(), walked(&t));
        assert_eq!(image.approximate_data_size(), 44 + 2 + 5 + 5);
        let mut buf = BytesMut::new();
        image.write_snapshot(&mut buf);
        let back = DataTree::read_snapshot(&mut Reader::new(buf.freeze())).unwrap();
        assert_eq!(back.approximate_data_size(), walked(&back));
        assert_eq!(back.approximate_data_size(), 44 + 2 + 5 + 5);
    }

    #[test]
    fn unused_acls_are_swept() {
        let mut t = DataTree::new();
        for i in 0..200 {
            let acl = vec![Acl {
                perms: zk_client::proto::Perms::ALL,
                id: zk_client::proto::Id {
                    scheme: "digest".into(),
                    id: format!("u{i}:x"),
                },
            }];
            let p = format!("/n{i}");
            t.create(
                &p,
                None,
                &acl,
                NodeKind::Persistent,
                i + 1,
                i64::from(i) + 1,
                0,
            )
            .unwrap();
            t.delete(&p, i64::from(i) + 1).unwrap();
        }
        assert!(t.acls.len < 130, "{} ACLs cached", t.acls.len);
    }
}
