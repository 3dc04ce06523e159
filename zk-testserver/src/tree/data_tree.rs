//! The data tree: every znode by path, plus the indexes the server needs
//! (ephemerals by session, containers, TTL nodes) and the watch registry.
//!
//! Mutations take the transaction's zxid and time as arguments, so applying
//! the same transactions in the same order gives the same tree everywhere.

use super::java_order::JavaHashSet;
use super::node::{Node, NodeKind, CHILDREN_INITIAL_CAPACITY};
use super::watch::WatchManager;
use bytes::{BufMut, Bytes, BytesMut};
use sha1::{Digest as _, Sha1};
use std::collections::{BTreeMap, BTreeSet, HashMap};
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

/// The znodes of one server.
#[derive(Debug, Clone)]
pub struct DataTree {
    nodes: HashMap<String, Node>,
    ephemerals: HashMap<i64, JavaHashSet>,
    containers: BTreeSet<String>,
    ttls: BTreeSet<String>,
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
        let mut nodes = HashMap::new();
        let open = Acl::open_unsafe;
        let sys = |acl| Node::new(Some(Bytes::new()), acl, NodeKind::Persistent, 0, 0);
        let mut root = sys(open());
        root.children.insert("zookeeper".into());
        let mut zk = sys(open());
        zk.children.insert("quota".into());
        zk.children.insert("config".into());
        let mut config = sys(Acl::read_unsafe());
        config.aversion = -1;
        nodes.insert("/".to_string(), root);
        nodes.insert(ZOOKEEPER.to_string(), zk);
        nodes.insert(QUOTA.to_string(), sys(open()));
        nodes.insert(CONFIG.to_string(), config);
        DataTree {
            nodes,
            ephemerals: HashMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            watches: WatchManager::default(),
        }
    }

    /// The node at `path`.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
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
        acl: Vec<Acl>,
        kind: NodeKind,
        parent_cversion: i32,
        zxid: i64,
        time: i64,
    ) -> Result<Stat, ErrorCode> {
        if path == "/" {
            return Err(ErrorCode::NodeExists);
        }
        let parent_path = zkpath::parent(path);
        let name = zkpath::basename(path).to_string();
        if self.nodes.contains_key(path) {
            return Err(ErrorCode::NodeExists);
        }
        let parent = self.nodes.get_mut(parent_path).ok_or(ErrorCode::NoNode)?;
        parent.children.insert(name);
        parent.cversion = parent_cversion;
        parent.pzxid = zxid;
        let node = Node::new(data, acl, kind, zxid, time);
        let stat = node.stat();
        match kind {
            NodeKind::Ephemeral(s) => {
                self.ephemerals
                    .entry(s)
                    .or_insert_with(|| JavaHashSet::with_capacity(EPHEMERALS_INITIAL_CAPACITY))
                    .insert(path.to_string());
            }
            NodeKind::Container => {
                self.containers.insert(path.to_string());
            }
            NodeKind::Ttl(_) => {
                self.ttls.insert(path.to_string());
            }
            NodeKind::Persistent => {}
        }
        self.nodes.insert(path.to_string(), node);
        Ok(stat)
    }

    /// Deletes a node (its parent's pzxid moves forward, cversion does not).
    pub fn delete(&mut self, path: &str, zxid: i64) -> Result<(), ErrorCode> {
        if path == "/" {
            return Err(ErrorCode::BadArguments);
        }
        let node = self.nodes.remove(path).ok_or(ErrorCode::NoNode)?;
        if let Some(parent) = self.nodes.get_mut(zkpath::parent(path)) {
            parent.children.remove(zkpath::basename(path));
            if zxid > parent.pzxid {
                parent.pzxid = zxid;
            }
        }
        match node.kind {
            NodeKind::Ephemeral(s) => {
                // Like ZooKeeper, the session's set stays (and keeps its
                // table size) until the session ends.
                if let Some(set) = self.ephemerals.get_mut(&s) {
                    set.remove(path);
                }
            }
            NodeKind::Container => {
                self.containers.remove(path);
            }
            NodeKind::Ttl(_) => {
                self.ttls.remove(path);
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
        let node = self.nodes.get_mut(path).ok_or(ErrorCode::NoNode)?;
        node.data = data;
        node.version = version;
        node.mzxid = zxid;
        node.mtime = time;
        Ok(node.stat())
    }

    /// Replaces a node's ACL with ACL version `aversion`.
    pub fn set_acl(&mut self, path: &str, acl: Vec<Acl>, aversion: i32) -> Result<Stat, ErrorCode> {
        let node = self.nodes.get_mut(path).ok_or(ErrorCode::NoNode)?;
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
            .map(JavaHashSet::java_clone)
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
        let mut stack = vec![path.to_string()];
        while let Some(p) = stack.pop() {
            if let Some(node) = self.nodes.get(&p) {
                for c in node.children.iter() {
                    count += 1;
                    stack.push(zkpath::join(&p, c));
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
        for p in &self.containers {
            if let Some(n) = self.nodes.get(p) {
                if n.children.is_empty() && n.cversion > 0 {
                    out.push(p.clone());
                }
            }
        }
        for p in &self.ttls {
            if let Some(n) = self.nodes.get(p) {
                if let NodeKind::Ttl(ttl) = n.kind {
                    if n.children.is_empty() && now_ms.saturating_sub(n.mtime) > ttl {
                        out.push(p.clone());
                    }
                }
            }
        }
        out
    }

    /// Every path, sorted.
    pub fn paths(&self) -> Vec<String> {
        let mut v: Vec<String> = self.nodes.keys().cloned().collect();
        v.sort();
        v
    }

    /// A digest of the replicated content (paths, data, ACLs, stats): equal
    /// on every member that applied the same transactions.
    pub fn digest(&self) -> u64 {
        let mut h = Sha1::new();
        for p in self.paths() {
            if let Some(n) = self.nodes.get(&p) {
                h.update(encode_node(&p, n));
            }
        }
        let out = h.finalize();
        let mut b = [0u8; 8];
        b.copy_from_slice(&out[..8]);
        u64::from_be_bytes(b)
    }

    /// Writes the snapshot encoding: node count, then each node in path order.
    pub fn write_snapshot(&self, buf: &mut BytesMut) {
        let paths = self.paths();
        buf.put_i32(i32::try_from(paths.len()).unwrap_or(i32::MAX));
        for p in paths {
            if let Some(n) = self.nodes.get(&p) {
                buf.extend_from_slice(&encode_node(&p, n));
            }
        }
    }

    /// Reads a tree written by [`DataTree::write_snapshot`] (parents come
    /// before children in path order). Watches start empty.
    pub fn read_snapshot(r: &mut Reader) -> Result<DataTree, DecodeError> {
        let count = r.read_i32()?;
        let mut tree = DataTree {
            nodes: HashMap::new(),
            ephemerals: HashMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            watches: WatchManager::default(),
        };
        for _ in 0..count.max(0) {
            let path = r.read_string()?;
            let node = Node {
                data: r.read_buffer()?,
                acl: r.read_vec::<Acl>()?,
                kind: NodeKind::from_stored_owner(r.read_i64()?),
                czxid: r.read_i64()?,
                mzxid: r.read_i64()?,
                pzxid: r.read_i64()?,
                ctime: r.read_i64()?,
                mtime: r.read_i64()?,
                version: r.read_i32()?,
                cversion: r.read_i32()?,
                aversion: r.read_i32()?,
                children: JavaHashSet::with_capacity(CHILDREN_INITIAL_CAPACITY),
            };
            if path != "/" {
                let parent = tree
                    .nodes
                    .get_mut(zkpath::parent(&path))
                    .ok_or(DecodeError::Invalid("snapshot node before its parent"))?;
                parent.children.insert(zkpath::basename(&path).to_string());
            }
            match node.kind {
                NodeKind::Ephemeral(s) => {
                    tree.ephemerals
                        .entry(s)
                        .or_insert_with(|| JavaHashSet::with_capacity(EPHEMERALS_INITIAL_CAPACITY))
                        .insert(path.clone());
                }
                NodeKind::Container => {
                    tree.containers.insert(path.clone());
                }
                NodeKind::Ttl(_) => {
                    tree.ttls.insert(path.clone());
                }
                NodeKind::Persistent => {}
            }
            tree.nodes.insert(path, node);
        }
        if !tree.nodes.contains_key("/") {
            return Err(DecodeError::Invalid("snapshot without root"));
        }
        Ok(tree)
    }
}

fn encode_node(path: &str, n: &Node) -> BytesMut {
    let mut b = BytesMut::new();
    b.put_jute_string(path);
    b.put_jute_buffer(n.data.as_deref());
    b.put_jute_vec(&n.acl);
    b.put_i64(n.kind.stored_owner());
    for v in [n.czxid, n.mzxid, n.pzxid, n.ctime, n.mtime] {
        b.put_i64(v);
    }
    for v in [n.version, n.cversion, n.aversion] {
        b.put_i32(v);
    }
    b
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
        assert_eq!(cfg.acl, Acl::read_unsafe());
        assert_eq!(t.node_count(), 5, "root counted twice, as ZooKeeper does");
    }

    #[test]
    fn create_delete_stats_and_snapshot() {
        let mut t = DataTree::new();
        t.create(
            "/a",
            None,
            Acl::open_unsafe(),
            NodeKind::Persistent,
            1,
            5,
            100,
        )
        .unwrap();
        t.create(
            "/a/b",
            Some(Bytes::from_static(b"xy")),
            vec![],
            NodeKind::Ephemeral(9),
            1,
            6,
            101,
        )
        .unwrap();
        assert_eq!(
            t.create("/a/b", None, vec![], NodeKind::Persistent, 1, 7, 0),
            Err(ErrorCode::NodeExists)
        );
        assert_eq!(
            t.create("/x/y", None, vec![], NodeKind::Persistent, 1, 7, 0),
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
        t.create("/c", None, vec![], NodeKind::Container, 1, 1, 0)
            .unwrap();
        t.create("/t", None, vec![], NodeKind::Ttl(100), 2, 2, 1000)
            .unwrap();
        assert!(t.expired_containers(1100).is_empty());
        assert_eq!(t.expired_containers(1101), vec!["/t".to_string()]);
        t.create("/c/x", None, vec![], NodeKind::Persistent, 1, 3, 0)
            .unwrap();
        t.delete("/c/x", 4).unwrap();
        assert_eq!(t.expired_containers(0), vec!["/c".to_string()]);
    }
}
