//! Request preparation: validates a write against the applied tree plus the
//! changes of transactions prepared but not yet applied (ZooKeeper's
//! outstanding changes), and turns it into a [`Txn`]. A failed write becomes an
//! error transaction that still consumes a zxid, as in ZooKeeper.

use super::txn::{Txn, TxnBody, TxnHeader};
use crate::tree::acl;
use crate::tree::{Acls, AuthInfo, DataTree, NodeKind};
use std::collections::{HashMap, VecDeque};
use zk_client::proto::path::{self as zkpath, validate_path};
use zk_client::proto::{CreateMode, CreateRequest, ErrorCode, OpCode, Perms, Request, MAX_TTL_MS};

/// What preparation needs to know about a node.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NodeView {
    acl: Acls,
    kind: NodeKind,
    version: i32,
    cversion: i32,
    aversion: i32,
    children: i32,
}

/// State of the requesting session as the session tracker sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Live.
    Live,
    /// Being closed or expired (requests fail with SessionExpired).
    Closing,
    /// Not known (requests fail with UnknownSession).
    Unknown,
}

/// Server options preparation depends on.
#[derive(Debug, Clone, Copy, Default)]
pub struct PrepConfig {
    /// Whether TTL nodes are enabled (`zookeeper.extendedTypesEnabled`).
    pub extended_types: bool,
    /// Which optional auth schemes ACLs may name.
    pub providers: acl::Providers,
    /// Whether `reconfig` is allowed (`reconfigEnabled`).
    pub reconfig_enabled: bool,
}

/// A client write to prepare.
#[derive(Debug, Clone, Copy)]
pub struct WriteRequest<'a> {
    /// The requesting session.
    pub session_id: i64,
    /// The request's xid.
    pub cxid: i32,
    /// The decoded request.
    pub request: &'a Request,
    /// The connection's identities.
    pub auth: &'a AuthInfo,
    /// The session's state.
    pub session: SessionState,
}

struct ChangeRecord {
    zxid: i64,
    node: Option<NodeView>,
}

/// The preparation stage: assigns zxids and tracks outstanding changes.
#[derive(Default)]
pub struct Preparer {
    /// The members synced with this leader (itself included), as its
    /// replication last reported; None when not replicating (standalone).
    pub synced: Option<Vec<u64>>,
    last_zxid: i64,
    changes: HashMap<String, ChangeRecord>,
    order: VecDeque<(i64, String)>,
}

/// The tree as preparation sees it: local (multi-scoped) changes, then
/// outstanding ones, then the applied tree.
struct View<'a> {
    tree: &'a DataTree,
    changes: &'a HashMap<String, ChangeRecord>,
    local: Vec<(String, Option<NodeView>)>,
}

impl View<'_> {
    fn get(&self, path: &str) -> Option<NodeView> {
        if let Some((_, n)) = self.local.iter().rev().find(|(p, _)| p == path) {
            return n.clone();
        }
        if let Some(c) = self.changes.get(path) {
            return c.node.clone();
        }
        self.tree.get(path).map(|n| NodeView {
            acl: n.acl.clone(),
            kind: n.kind(),
            version: n.version,
            cversion: n.cversion,
            aversion: n.aversion,
            children: n.num_children(),
        })
    }

    fn set(&mut self, path: &str, node: Option<NodeView>) {
        self.local.push((path.to_string(), node));
    }
}

fn check_session(s: SessionState) -> Result<(), ErrorCode> {
    match s {
        SessionState::Live => Ok(()),
        SessionState::Closing => Err(ErrorCode::SessionExpired),
        SessionState::Unknown => Err(ErrorCode::UnknownSession),
    }
}

fn check_version(current: i32, expected: i32) -> Result<(), ErrorCode> {
    if expected != -1 && expected != current {
        Err(ErrorCode::BadVersion)
    } else {
        Ok(())
    }
}

fn is_special(path: &str) -> bool {
    matches!(
        path,
        "/" | "/zookeeper" | "/zookeeper/quota" | "/zookeeper/config"
    )
}

impl Preparer {
    /// A preparer whose next zxid follows `last_zxid`.
    pub fn new(last_zxid: i64) -> Preparer {
        Preparer {
            last_zxid,
            ..Preparer::default()
        }
    }

    /// The last zxid handed out.
    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// Forgets outstanding changes and continues after `zxid` (a new leader
    /// epoch, or a restart).
    pub fn reset(&mut self, zxid: i64) {
        self.last_zxid = zxid;
        self.changes.clear();
        self.order.clear();
    }

    /// Whether transactions are prepared but not yet applied.
    pub fn has_outstanding(&self) -> bool {
        !self.order.is_empty()
    }

    fn next_zxid(&mut self) -> i64 {
        self.last_zxid += 1;
        self.last_zxid
    }

    fn commit_local(&mut self, zxid: i64, local: Vec<(String, Option<NodeView>)>) {
        for (path, node) in local {
            self.order.push_back((zxid, path.clone()));
            self.changes.insert(path, ChangeRecord { zxid, node });
        }
    }

    /// Drops outstanding changes of transactions up to `zxid` (now applied).
    pub fn applied(&mut self, zxid: i64) {
        while let Some((z, _)) = self.order.front() {
            if *z > zxid {
                break;
            }
            if let Some((z, path)) = self.order.pop_front() {
                if self.changes.get(&path).is_some_and(|c| c.zxid == z) {
                    self.changes.remove(&path);
                }
            }
        }
    }

    fn header(&mut self, session_id: i64, cxid: i32, op: i32, time: i64) -> TxnHeader {
        TxnHeader {
            session_id,
            cxid,
            zxid: self.next_zxid(),
            time,
            op,
        }
    }

    /// Prepares a client write (create*, delete, setData, setACL, check, multi).
    pub fn prepare(
        &mut self,
        tree: &DataTree,
        cfg: PrepConfig,
        req: WriteRequest<'_>,
        time: i64,
    ) -> Txn {
        let op = req.request.opcode().code();
        let header = self.header(req.session_id, req.cxid, op, time);
        let zxid = header.zxid;
        let mut view = View {
            tree,
            changes: &self.changes,
            local: Vec::new(),
        };
        let body = if let Request::Multi(ops) = req.request {
            let mut bodies = Vec::with_capacity(ops.len());
            let mut failure = None;
            for (i, sub) in ops.iter().enumerate() {
                match prep_op(&mut view, cfg, &req, sub) {
                    Ok(b) => bodies.push((multi_op_code(sub), b)),
                    Err(e) => {
                        failure = Some((i, e));
                        break;
                    }
                }
            }
            match failure {
                None => TxnBody::Multi(bodies),
                Some((at, e)) => {
                    view.local.clear();
                    TxnBody::Multi(
                        ops.iter()
                            .enumerate()
                            .map(|(i, _)| {
                                let code = match i.cmp(&at) {
                                    std::cmp::Ordering::Less => 0,
                                    std::cmp::Ordering::Equal => e.code(),
                                    std::cmp::Ordering::Greater => {
                                        ErrorCode::RuntimeInconsistency.code()
                                    }
                                };
                                (OpCode::Error.code(), TxnBody::Error { code })
                            })
                            .collect(),
                    )
                }
            }
        } else if let Request::Reconfig(r) = req.request {
            let synced = self.synced.as_deref();
            match prep_reconfig(&mut view, cfg, &req, r, synced, zxid) {
                Ok(b) => b,
                Err(e) => {
                    view.local.clear();
                    TxnBody::Error { code: e.code() }
                }
            }
        } else {
            match prep_op(&mut view, cfg, &req, req.request) {
                Ok(b) => b,
                Err(e) => {
                    view.local.clear();
                    TxnBody::Error { code: e.code() }
                }
            }
        };
        let local = std::mem::take(&mut view.local);
        self.commit_local(zxid, local);
        Txn { header, body }
    }

    /// An error transaction for a write that failed before validation (an
    /// undecodable body): it still consumes a zxid, as in ZooKeeper.
    pub fn failed(
        &mut self,
        session_id: i64,
        cxid: i32,
        op: i32,
        code: ErrorCode,
        time: i64,
    ) -> Txn {
        Txn {
            header: self.header(session_id, cxid, op, time),
            body: TxnBody::Error { code: code.code() },
        }
    }

    /// A createSession transaction.
    pub fn create_session(&mut self, session_id: i64, timeout_ms: i32, time: i64) -> Txn {
        Txn {
            header: self.header(session_id, 0, OpCode::CreateSession.code(), time),
            body: TxnBody::CreateSession { timeout_ms },
        }
    }

    /// A closeSession transaction (close or expiry): the session's ephemerals,
    /// counting outstanding creates and deletes.
    pub fn close_session(&mut self, tree: &DataTree, session_id: i64, cxid: i32, time: i64) -> Txn {
        let header = self.header(session_id, cxid, OpCode::CloseSession.code(), time);
        // ZooKeeper deletes them in the order of a copy of the session's
        // hash set, adjusted by the outstanding changes in zxid order.
        let mut set = tree.ephemeral_set(session_id);
        let mut outstanding: Vec<(&String, &ChangeRecord)> = self.changes.iter().collect();
        outstanding.sort_by_key(|(_, c)| c.zxid);
        for (path, c) in outstanding {
            match &c.node {
                None => {
                    set.remove(path);
                }
                Some(n) if n.kind == NodeKind::Ephemeral(session_id) => {
                    set.insert(path.clone());
                }
                Some(_) => {}
            }
        }
        let paths = set.java_order();
        let mut view = View {
            tree,
            changes: &self.changes,
            local: Vec::new(),
        };
        for p in &paths {
            view.set(p, None);
            let parent = zkpath::parent(p);
            if let Some(mut pn) = view.get(parent) {
                pn.children -= 1;
                view.set(parent, Some(pn));
            }
        }
        let local = std::mem::take(&mut view.local);
        self.commit_local(header.zxid, local);
        Txn {
            header,
            body: TxnBody::CloseSession { ephemerals: paths },
        }
    }

    /// A deleteContainer transaction for an empty container or expired TTL
    /// node found by the background check (an error txn if it changed since).
    pub fn delete_container(&mut self, tree: &DataTree, path: &str, time: i64) -> Txn {
        let header = self.header(0, 0, OpCode::DeleteContainer.code(), time);
        let mut view = View {
            tree,
            changes: &self.changes,
            local: Vec::new(),
        };
        let body = match prep_delete_container(&mut view, path) {
            Ok(b) => b,
            Err(e) => {
                view.local.clear();
                TxnBody::Error { code: e.code() }
            }
        };
        let local = std::mem::take(&mut view.local);
        self.commit_local(header.zxid, local);
        Txn { header, body }
    }
}

/// The op type a multi result is reported under. ZooKeeper rebuilds create
/// ops inside multi from their flags: containers and TTL nodes answer as
/// create2 (path and stat), every other create as plain create (path only),
/// whatever opcode the client used.
fn multi_op_code(op: &Request) -> i32 {
    let flags = match op {
        Request::Create(c) | Request::Create2(c) | Request::CreateContainer(c) => c.flags,
        Request::CreateTtl(c) => c.flags,
        other => return other.opcode().code(),
    };
    match CreateMode::from_flags(flags) {
        Ok(m) if m.is_container() || m.is_ttl() => OpCode::Create2.code(),
        _ => OpCode::Create.code(),
    }
}

fn prep_delete_container(view: &mut View<'_>, path: &str) -> Result<TxnBody, ErrorCode> {
    if is_special(path) || !path.starts_with('/') {
        return Err(ErrorCode::BadArguments);
    }
    let node = view.get(path).ok_or(ErrorCode::NoNode)?;
    if !matches!(node.kind, NodeKind::Container | NodeKind::Ttl(_)) {
        return Err(ErrorCode::BadArguments);
    }
    if node.children > 0 {
        return Err(ErrorCode::NotEmpty);
    }
    remove_node(view, path);
    Ok(TxnBody::Delete {
        path: path.to_string(),
    })
}

fn remove_node(view: &mut View<'_>, path: &str) {
    view.set(path, None);
    let parent = zkpath::parent(path);
    if let Some(mut pn) = view.get(parent) {
        pn.children -= 1;
        view.set(parent, Some(pn));
    }
}

fn prep_op(
    view: &mut View<'_>,
    cfg: PrepConfig,
    req: &WriteRequest<'_>,
    op: &Request,
) -> Result<TxnBody, ErrorCode> {
    match op {
        Request::Create(c) | Request::Create2(c) | Request::CreateContainer(c) => {
            prep_create(view, cfg, req, c, -1)
        }
        Request::CreateTtl(t) => {
            let c = CreateRequest {
                path: t.path.clone(),
                data: t.data.clone(),
                acl: t.acl.clone(),
                flags: t.flags,
            };
            prep_create(view, cfg, req, &c, t.ttl)
        }
        Request::Delete(d) => {
            check_session(req.session)?;
            let path = d.path.as_str();
            if !path.contains('/') || path.contains('\0') || is_special(path) {
                return Err(ErrorCode::BadArguments);
            }
            let parent = view.get(zkpath::parent(path)).ok_or(ErrorCode::NoNode)?;
            acl::check(&parent.acl, Perms::DELETE, req.auth)?;
            let node = view.get(path).ok_or(ErrorCode::NoNode)?;
            check_version(node.version, d.version)?;
            if node.children > 0 {
                return Err(ErrorCode::NotEmpty);
            }
            remove_node(view, path);
            Ok(TxnBody::Delete {
                path: path.to_string(),
            })
        }
        Request::SetData(s) => {
            check_session(req.session)?;
            validate_path(&s.path).map_err(|_| ErrorCode::BadArguments)?;
            let mut node = view.get(&s.path).ok_or(ErrorCode::NoNode)?;
            acl::check(&node.acl, Perms::WRITE, req.auth)?;
            check_version(node.version, s.version)?;
            node.version = node.version.wrapping_add(1);
            let version = node.version;
            view.set(&s.path, Some(node));
            Ok(TxnBody::SetData {
                path: s.path.clone(),
                data: s.data.clone(),
                version,
            })
        }
        Request::SetAcl(s) => {
            check_session(req.session)?;
            validate_path(&s.path).map_err(|_| ErrorCode::BadArguments)?;
            let acl = acl::fixup(&s.acl, req.auth, cfg.providers)?;
            let mut node = view.get(&s.path).ok_or(ErrorCode::NoNode)?;
            acl::check(&node.acl, Perms::ADMIN, req.auth)?;
            check_version(node.aversion, s.version)?;
            node.aversion = node.aversion.wrapping_add(1);
            node.acl = Acls::new(acl.clone());
            let aversion = node.aversion;
            view.set(&s.path, Some(node));
            Ok(TxnBody::SetAcl {
                path: s.path.clone(),
                acl,
                aversion,
            })
        }
        Request::Check(c) => {
            check_session(req.session)?;
            validate_path(&c.path).map_err(|_| ErrorCode::BadArguments)?;
            let node = view.get(&c.path).ok_or(ErrorCode::NoNode)?;
            acl::check(&node.acl, Perms::READ, req.auth)?;
            check_version(node.version, c.version)?;
            Ok(TxnBody::Check {
                path: c.path.clone(),
            })
        }
        _ => Err(ErrorCode::BadArguments),
    }
}

/// A reconfig: the checks and next configuration of
/// [`super::reconfig::prepare`], recorded as an outstanding change of
/// `/zookeeper/config` (a second reconfig meanwhile is ReconfigInProgress).
fn prep_reconfig(
    view: &mut View<'_>,
    cfg: PrepConfig,
    req: &WriteRequest<'_>,
    r: &zk_client::proto::ReconfigRequest,
    synced: Option<&[u64]>,
    zxid: i64,
) -> Result<TxnBody, ErrorCode> {
    check_session(req.session)?;
    let config = crate::tree::data_tree::CONFIG;
    let node = view.get(config).ok_or(ErrorCode::NoNode)?;
    let current = view.tree.get(config).and_then(|n| n.data.clone());
    let ctx = super::reconfig::ReconfigContext {
        enabled: cfg.reconfig_enabled,
        standalone: synced.is_none(),
        current: current.as_deref().unwrap_or_default(),
        in_progress: view.changes.contains_key(config),
        synced: synced.unwrap_or_default(),
    };
    let body = super::reconfig::prepare(ctx, req.auth, r, zxid)?;
    view.set(config, Some(node));
    Ok(body)
}

fn prep_create(
    view: &mut View<'_>,
    cfg: PrepConfig,
    req: &WriteRequest<'_>,
    c: &CreateRequest,
    ttl: i64,
) -> Result<TxnBody, ErrorCode> {
    let mode = CreateMode::from_flags(c.flags).map_err(|_| ErrorCode::BadArguments)?;
    if mode.is_ttl() && !cfg.extended_types {
        return Err(ErrorCode::Unimplemented);
    }
    if mode.is_ttl() {
        if ttl <= 0 || ttl > MAX_TTL_MS {
            return Err(ErrorCode::BadArguments);
        }
    } else if ttl >= 0 {
        return Err(ErrorCode::BadArguments);
    }
    check_session(req.session)?;
    // Only the basics before the parent lookup (a '/', no NUL); the full
    // path rules apply to the final name, so a missing parent wins over a
    // trailing '/' (as in ZooKeeper).
    if !c.path.contains('/') || c.path.contains('\0') {
        return Err(ErrorCode::BadArguments);
    }
    let acl = acl::fixup(&c.acl, req.auth, cfg.providers)?;
    if c.path == "/" && !mode.is_sequential() {
        return Err(ErrorCode::NodeExists);
    }
    let parent_path = zkpath::parent(&c.path).to_string();
    let mut parent = view.get(&parent_path).ok_or(ErrorCode::NoNode)?;
    acl::check(&parent.acl, Perms::CREATE, req.auth)?;
    let path = if mode.is_sequential() {
        format!("{}{:010}", c.path, parent.cversion)
    } else {
        c.path.clone()
    };
    validate_path(&path).map_err(|_| ErrorCode::BadArguments)?;
    if view.get(&path).is_some() {
        return Err(ErrorCode::NodeExists);
    }
    if matches!(parent.kind, NodeKind::Ephemeral(_)) {
        return Err(ErrorCode::NoChildrenForEphemerals);
    }
    let kind = if mode.is_ephemeral() {
        NodeKind::Ephemeral(req.session_id)
    } else if mode.is_container() {
        NodeKind::Container
    } else if mode.is_ttl() {
        NodeKind::Ttl(ttl)
    } else {
        NodeKind::Persistent
    };
    parent.cversion = parent.cversion.wrapping_add(1);
    parent.children += 1;
    let parent_cversion = parent.cversion;
    view.set(&parent_path, Some(parent));
    view.set(
        &path,
        Some(NodeView {
            acl: Acls::new(acl.clone()),
            kind,
            version: 0,
            cversion: 0,
            aversion: 0,
            children: 0,
        }),
    );
    Ok(TxnBody::Create {
        path,
        data: c.data.clone(),
        acl,
        owner: kind.stored_owner(),
        parent_cversion,
    })
}
