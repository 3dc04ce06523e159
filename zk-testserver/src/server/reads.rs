//! Reads and other requests answered from the applied tree without a
//! transaction: exists/getData/getChildren*, getACL, sync, multiRead,
//! getAllChildrenNumber, getEphemerals, whoAmI, watch management, SetWatches,
//! ping.

use super::database::Database;
use super::ZkVersion;
use crate::tree::{acl, AuthInfo, DataTree, RemoveKind, ServerWatchKind, WatcherId};
use bytes::{BufMut, Bytes, BytesMut};
use zk_client::proto::jute::JuteWrite;
use zk_client::proto::{
    encode_notification, encode_reply, xid, AddWatchMode, AddWatchRequest, ErrorCode,
    ErrorResponse, EventType, GetAclResponse, GetAllChildrenNumberResponse, GetChildren2Response,
    GetChildrenResponse, GetDataResponse, GetEphemeralsResponse, MultiResult, PathRequest,
    PathWatchRequest, Perms, Record, ReplyHeader, Request, Response, SetWatches2, Stat,
    StatResponse,
    SyncResponse, WatcherEvent, WatchesRequest, WhoAmIResponse,
};

/// Who is reading.
#[derive(Debug, Clone, Copy)]
pub struct ReadCtx<'a> {
    /// The connection (watches are registered for it).
    pub conn: WatcherId,
    /// Its session.
    pub session_id: i64,
    /// Its identities.
    pub auth: &'a AuthInfo,
    /// The release whose read rules apply.
    pub version: ZkVersion,
}

/// Answers one read: the frames to send (SetWatches events first, then the reply).
pub fn read(db: &mut Database, ctx: ReadCtx<'_>, xid: i32, req: &Request) -> Vec<Bytes> {
    let mut frames = Vec::new();
    let (reply_xid, result) = match req {
        Request::Ping => (xid::PING, Ok(Response::Empty)),
        Request::SetWatches(s) => {
            let s2 = SetWatches2 {
                relative_zxid: s.relative_zxid,
                data_watches: s.data_watches.clone(),
                exist_watches: s.exist_watches.clone(),
                child_watches: s.child_watches.clone(),
                ..SetWatches2::default()
            };
            set_watches(db, ctx, &s2, &mut frames);
            (xid::SET_WATCHES, Ok(Response::Empty))
        }
        Request::SetWatches2(s) => {
            set_watches(db, ctx, s, &mut frames);
            (xid::SET_WATCHES, Ok(Response::Empty))
        }
        Request::GetChildren(r) | Request::GetChildren2(r) => {
            let with_stat = matches!(req, Request::GetChildren2(_));
            match children_frame(db, ctx, xid, r, with_stat) {
                Ok(frame) => return vec![frame],
                Err(e) => (xid, Err(e)),
            }
        }
        other => (xid, answer(db, ctx, other)),
    };
    let (err, body) = match result {
        Ok(r) => (0, r),
        Err(e) => (e.code(), Response::Empty),
    };
    frames.push(encode_reply(
        &ReplyHeader {
            xid: reply_xid,
            zxid: db.last_zxid,
            err,
        },
        &body,
    ));
    frames
}

fn answer(db: &mut Database, ctx: ReadCtx<'_>, req: &Request) -> Result<Response, ErrorCode> {
    let tree = &mut db.tree;
    match req {
        Request::Exists(r) => exists(tree, ctx, r),
        Request::GetData(r) => get_data(tree, ctx, r),
        Request::GetChildren(r) => {
            let (children, _) = get_children(tree, ctx, r)?;
            Ok(Response::GetChildren(GetChildrenResponse { children }))
        }
        Request::GetChildren2(r) => {
            let (children, stat) = get_children(tree, ctx, r)?;
            Ok(Response::GetChildren2(GetChildren2Response {
                children,
                stat,
            }))
        }
        Request::GetAcl(r) => get_acl(tree, ctx, r),
        Request::Sync(r) => Ok(Response::Sync(SyncResponse {
            path: r.path.clone(),
        })),
        Request::GetAllChildrenNumber(r) => all_children_number(tree, ctx, r),
        Request::GetEphemerals(r) => {
            let prefix = r.path.trim();
            let all = prefix.is_empty() || prefix == "/";
            let ephemerals = tree
                .ephemerals(ctx.session_id)
                .into_iter()
                .filter(|p| all || p.starts_with(r.path.as_str()))
                .collect();
            Ok(Response::Ephemerals(GetEphemeralsResponse { ephemerals }))
        }
        Request::WhoAmI => Ok(Response::WhoAmI(WhoAmIResponse {
            client_info: ctx.auth.who_am_i(),
        })),
        Request::AddWatch(r) => add_watch(tree, ctx, r),
        Request::CheckWatches(r) => check_or_remove_watches(tree, ctx, r, true),
        Request::RemoveWatches(r) => check_or_remove_watches(tree, ctx, r, false),
        Request::MultiRead(ops) => Ok(Response::Multi(
            ops.iter().map(|op| multi_read_one(db, ctx, op)).collect(),
        )),
        _ => Err(ErrorCode::Unimplemented),
    }
}

fn exists(
    tree: &mut DataTree,
    ctx: ReadCtx<'_>,
    r: &PathWatchRequest,
) -> Result<Response, ErrorCode> {
    if r.path.contains('\0') {
        return Err(ErrorCode::BadArguments);
    }
    // 3.9 refuses a node the caller may not read, before the watch.
    if ctx.version.exists_checks_read() {
        if let Some(node) = tree.get(&r.path) {
            acl::check(&node.acl, Perms::READ, ctx.auth)?;
        }
    }
    if r.watch {
        tree.watches.add(&r.path, ctx.conn, ServerWatchKind::Data);
    }
    let node = tree.get(lookup(&r.path)).ok_or(ErrorCode::NoNode)?;
    Ok(Response::Stat(StatResponse { stat: node.stat() }))
}

fn get_data(
    tree: &mut DataTree,
    ctx: ReadCtx<'_>,
    r: &PathWatchRequest,
) -> Result<Response, ErrorCode> {
    let node = tree.get(lookup(&r.path)).ok_or(ErrorCode::NoNode)?;
    acl::check(&node.acl, Perms::READ, ctx.auth)?;
    let resp = GetDataResponse {
        data: node.data.clone(),
        stat: node.stat(),
    };
    if r.watch {
        tree.watches.add(&r.path, ctx.conn, ServerWatchKind::Data);
    }
    Ok(Response::GetData(resp))
}

/// The children (in Java's order) and stat of a node, for getChildren and
/// getChildren2.
fn get_children(
    tree: &mut DataTree,
    ctx: ReadCtx<'_>,
    r: &PathWatchRequest,
) -> Result<(Vec<String>, Stat), ErrorCode> {
    let node = tree.get(lookup(&r.path)).ok_or(ErrorCode::NoNode)?;
    acl::check(&node.acl, Perms::READ, ctx.auth)?;
    let children = node.children.java_order();
    let stat = node.stat();
    if r.watch {
        tree.watches.add(&r.path, ctx.conn, ServerWatchKind::Child);
    }
    Ok((children, stat))
}

/// Bytes of an encoded [`ReplyHeader`] and [`Stat`].
const REPLY_HEADER_LEN: usize = 16;
const STAT_LEN: usize = 68;

/// The whole reply frame to getChildren (`with_stat`: getChildren2),
/// encoded straight from the child table in listing order into a buffer of
/// its final size. Going through [`Response`] would make a `String` per
/// child only to copy it into the frame (a million of them for a directory
/// of a million children).
fn children_frame(
    db: &mut Database,
    ctx: ReadCtx<'_>,
    xid: i32,
    r: &PathWatchRequest,
    with_stat: bool,
) -> Result<Bytes, ErrorCode> {
    let zxid = db.last_zxid;
    let tree = &mut db.tree;
    let node = tree.get(lookup(&r.path)).ok_or(ErrorCode::NoNode)?;
    acl::check(&node.acl, Perms::READ, ctx.auth)?;
    let names = node.children.listing();
    let names_len: usize = names.iter().map(|(name, _)| 4 + name.len()).sum();
    let stat_len = if with_stat { STAT_LEN } else { 0 };
    let mut buf = BytesMut::with_capacity(4 + REPLY_HEADER_LEN + 4 + names_len + stat_len);
    buf.put_i32(0);
    ReplyHeader { xid, zxid, err: 0 }.write(&mut buf);
    buf.put_i32(i32::try_from(names.len()).unwrap_or(i32::MAX));
    for (name, _) in &names {
        buf.put_jute_string(name);
    }
    if with_stat {
        node.stat().write(&mut buf);
    }
    let len = i32::try_from(buf.len() - 4).unwrap_or(i32::MAX);
    buf[..4].copy_from_slice(&len.to_be_bytes());
    if r.watch {
        tree.watches.add(&r.path, ctx.conn, ServerWatchKind::Child);
    }
    Ok(buf.freeze())
}

fn get_acl(tree: &DataTree, ctx: ReadCtx<'_>, r: &PathRequest) -> Result<Response, ErrorCode> {
    let node = tree.get(lookup(&r.path)).ok_or(ErrorCode::NoNode)?;
    acl::check(&node.acl, Perms::READ | Perms::ADMIN, ctx.auth)?;
    let acl = if acl::check(&node.acl, Perms::ADMIN, ctx.auth).is_ok() {
        node.acl.to_vec()
    } else {
        acl::redact(&node.acl)
    };
    Ok(Response::GetAcl(GetAclResponse {
        acl,
        stat: node.stat(),
    }))
}

fn all_children_number(
    tree: &DataTree,
    ctx: ReadCtx<'_>,
    r: &PathRequest,
) -> Result<Response, ErrorCode> {
    let node = tree.get(lookup(&r.path)).ok_or(ErrorCode::NoNode)?;
    acl::check(&node.acl, Perms::READ, ctx.auth)?;
    // ZooKeeper counts the keys under `path + "/"`; for "" that is
    // every node but the root's "" key, "/" included.
    let n = if r.path.is_empty() {
        tree.descendant_count("/") + 1
    } else {
        tree.descendant_count(&r.path)
    };
    Ok(Response::AllChildrenNumber(GetAllChildrenNumberResponse {
        total_number: i32::try_from(n).unwrap_or(i32::MAX),
    }))
}

fn add_watch(
    tree: &mut DataTree,
    ctx: ReadCtx<'_>,
    r: &AddWatchRequest,
) -> Result<Response, ErrorCode> {
    let kind = match AddWatchMode::from_code(r.mode) {
        Ok(AddWatchMode::Persistent) => ServerWatchKind::Persistent,
        Ok(AddWatchMode::PersistentRecursive) => ServerWatchKind::PersistentRecursive,
        // ZooKeeper fails to map the mode: a marshalling error.
        Err(_) => return Err(ErrorCode::MarshallingError),
    };
    tree.watches.add(&r.path, ctx.conn, kind);
    Ok(Response::AddWatch(ErrorResponse { err: 0 }))
}

/// checkWatches (`check`) or removeWatches: `NoWatcher` unless the
/// connection has such a watch on the path.
fn check_or_remove_watches(
    tree: &mut DataTree,
    ctx: ReadCtx<'_>,
    r: &WatchesRequest,
    check: bool,
) -> Result<Response, ErrorCode> {
    let kind = RemoveKind::from_code(r.watcher_type).ok_or(ErrorCode::MarshallingError)?;
    let found = if ctx.version.separate_persistent_watch_kinds() {
        if check {
            tree.watches.contains(&r.path, ctx.conn, kind)
        } else {
            tree.watches.remove(&r.path, ctx.conn, kind)
        }
    } else {
        // 3.8 knows no persistent watcher types: it fails to map them.
        if matches!(
            kind,
            RemoveKind::Persistent | RemoveKind::PersistentRecursive
        ) {
            return Err(ErrorCode::MarshallingError);
        }
        if check {
            tree.watches.contains_3_8(&r.path, ctx.conn, kind)
        } else {
            tree.watches.remove_3_8(&r.path, ctx.conn, kind)
        }
    };
    if found {
        Ok(Response::Empty)
    } else {
        Err(ErrorCode::NoWatcher)
    }
}

/// One operation of a multiRead: a getData or getChildren, never watched.
fn multi_read_one(db: &mut Database, ctx: ReadCtx<'_>, op: &Request) -> MultiResult {
    let plain = match op {
        Request::GetData(r) => Request::GetData(PathWatchRequest {
            path: r.path.clone(),
            watch: false,
        }),
        Request::GetChildren(r) => Request::GetChildren(PathWatchRequest {
            path: r.path.clone(),
            watch: false,
        }),
        _ => return MultiResult::Error(ErrorCode::BadArguments.code()),
    };
    match answer(db, ctx, &plain) {
        Ok(Response::GetData(d)) => MultiResult::GetData(d),
        Ok(Response::GetChildren(c)) => MultiResult::GetChildren(c),
        Ok(_) => MultiResult::Error(ErrorCode::SystemError.code()),
        Err(e) => MultiResult::Error(e.code()),
    }
}

/// The node a read of `path` finds: ZooKeeper's tree holds the root under
/// "" as well as "/", so reads of the empty path see the root (and watches
/// set with it are kept under "", where nothing fires them).
fn lookup(path: &str) -> &str {
    if path.is_empty() {
        "/"
    } else {
        path
    }
}

/// Re-registers watches after a reconnect; changes after `relative_zxid`
/// fire at once (notification zxid -1).
fn set_watches(db: &mut Database, ctx: ReadCtx<'_>, s: &SetWatches2, frames: &mut Vec<Bytes>) {
    let rel = s.relative_zxid;
    let tree = &mut db.tree;
    let mut fire = |ev: EventType, p: &str| {
        frames.push(encode_notification(-1, &WatcherEvent::node(ev, p)));
    };
    for p in &s.data_watches {
        match tree.get(p) {
            None => fire(EventType::NodeDeleted, p),
            Some(n) if n.mzxid > rel => fire(EventType::NodeDataChanged, p),
            Some(_) => tree.watches.add(p, ctx.conn, ServerWatchKind::Data),
        }
    }
    for p in &s.exist_watches {
        match tree.get(p) {
            Some(_) => fire(EventType::NodeCreated, p),
            None => tree.watches.add(p, ctx.conn, ServerWatchKind::Data),
        }
    }
    for p in &s.child_watches {
        match tree.get(p) {
            None => fire(EventType::NodeDeleted, p),
            Some(n) if n.pzxid > rel => fire(EventType::NodeChildrenChanged, p),
            Some(_) => tree.watches.add(p, ctx.conn, ServerWatchKind::Child),
        }
    }
    for p in &s.persistent_watches {
        tree.watches.add(p, ctx.conn, ServerWatchKind::Persistent);
    }
    for p in &s.persistent_recursive_watches {
        tree.watches
            .add(p, ctx.conn, ServerWatchKind::PersistentRecursive);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::NodeKind;
    use zk_client::proto::Acl;

    /// getChildren and getChildren2 replies encoded straight from the child
    /// table are the frames the generic encoder makes of the listing; the
    /// watch is left as before, and errors still take the generic path.
    #[test]
    fn children_frames_match_the_generic_encoding() {
        let mut db = Database::default();
        let open = Acl::open_unsafe();
        let kind = NodeKind::Persistent;
        db.tree.create("/d", None, &open, kind, 0, 1, 0).unwrap();
        db.tree.create("/leaf", None, &open, kind, 0, 2, 0).unwrap();
        let long = "a-child-name-longer-than-the-inline-limit";
        for i in 0..50 {
            let path = if i % 9 == 4 {
                format!("/d/{long}{i}")
            } else {
                format!("/d/c-{}", i * 7 % 50)
            };
            let zxid = i64::from(i) + 3;
            db.tree.create(&path, None, &open, kind, i + 1, zxid, 0).unwrap();
        }
        db.last_zxid = 60;
        let auth = AuthInfo::from_ip("127.0.0.1");
        let ctx = ReadCtx {
            conn: 1,
            session_id: 5,
            auth: &auth,
            version: ZkVersion::default(),
        };
        for path in ["/d", "/leaf", ""] {
            let node = db.tree.get(lookup(path)).unwrap();
            let (children, stat) = (node.children.java_order(), node.stat());
            let hdr = ReplyHeader {
                xid: 7,
                zxid: 60,
                err: 0,
            };
            let r = PathWatchRequest {
                path: path.into(),
                watch: path == "/d",
            };
            let plain = Response::GetChildren(GetChildrenResponse {
                children: children.clone(),
            });
            let frames = read(&mut db, ctx, 7, &Request::GetChildren(r.clone()));
            assert_eq!(frames, vec![encode_reply(&hdr, &plain)], "{path}");
            let with_stat = Response::GetChildren2(GetChildren2Response { children, stat });
            let frames = read(&mut db, ctx, 7, &Request::GetChildren2(r));
            assert_eq!(frames, vec![encode_reply(&hdr, &with_stat)], "{path}");
        }
        assert!(db.tree.watches.contains("/d", 1, RemoveKind::Children));
        assert!(!db.tree.watches.contains("/leaf", 1, RemoveKind::Children));
        let missing = PathWatchRequest {
            path: "/nothing".into(),
            watch: false,
        };
        let err = ReplyHeader {
            xid: 8,
            zxid: 60,
            err: ErrorCode::NoNode.code(),
        };
        assert_eq!(
            read(&mut db, ctx, 8, &Request::GetChildren2(missing)),
            vec![encode_reply(&err, &Response::Empty)]
        );
    }
}
