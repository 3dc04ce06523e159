//! Applying a committed transaction to the database: deterministic, fires
//! watches, and yields the result the requesting connection is answered with.

use super::database::Database;
use super::txn::{Txn, TxnBody, TxnHeader};
use crate::tree::{Acls, DataTree, Fired, NodeKind};
use zk_client::proto::{
    Create2Response, CreateResponse, ErrorCode, EventType, MultiResult, OpCode, Stat, StatResponse,
};

/// The outcome of one applied transaction (or one op of a multi).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnResult {
    /// A node was created.
    Created {
        /// Its final path.
        path: String,
        /// Its stat.
        stat: Stat,
    },
    /// A node was deleted.
    Deleted,
    /// Data or ACL was replaced: the new stat.
    Stat(Stat),
    /// A check passed.
    Checked,
    /// Multi results, one per op.
    Multi(Vec<MultiResult>),
    /// The write failed with this code.
    Error(i32),
    /// A session was created.
    SessionCreated,
    /// A session was closed.
    SessionClosed,
}

/// What applying a transaction produced.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The transaction's header (who to answer, which zxid).
    pub header: TxnHeader,
    /// The result for the reply.
    pub result: TxnResult,
    /// Watches fired, in order.
    pub fired: Vec<Fired>,
}

/// Applies `txn` to `db`. Never fails: an op the tree refuses (impossible for
/// a consistent log) becomes an error result.
pub fn apply(db: &mut Database, txn: &Txn) -> Applied {
    let h = &txn.header;
    let mut fired = Vec::new();
    let result = match &txn.body {
        TxnBody::CreateSession { timeout_ms } => {
            db.sessions.insert(h.session_id, *timeout_ms);
            TxnResult::SessionCreated
        }
        TxnBody::CloseSession { ephemerals } => {
            let mut paths = ephemerals.clone();
            for p in db.tree.ephemerals(h.session_id) {
                if !paths.contains(&p) {
                    paths.push(p);
                }
            }
            for p in paths {
                let acl = match db.tree.get(&p) {
                    Some(n) if n.kind() == NodeKind::Ephemeral(h.session_id) => n.acl.clone(),
                    _ => continue,
                };
                if db.tree.delete(&p, h.zxid).is_ok() {
                    let f = db.tree.watches.node_deleted(&p);
                    fired.extend(stamp(&db.tree, f, &acl));
                }
            }
            db.tree.forget_session(h.session_id);
            db.sessions.remove(&h.session_id);
            TxnResult::SessionClosed
        }
        TxnBody::Multi(ops) => {
            let failed = ops.iter().any(|(_, b)| matches!(b, TxnBody::Error { .. }));
            let mut results = Vec::with_capacity(ops.len());
            let mut after_failure = false;
            for (op, body) in ops {
                if failed {
                    let code = match body {
                        TxnBody::Error { code } => {
                            after_failure = true;
                            *code
                        }
                        _ if after_failure => ErrorCode::RuntimeInconsistency.code(),
                        _ => 0,
                    };
                    results.push(MultiResult::Error(code));
                    continue;
                }
                let r = apply_op(db, h, body, &mut fired);
                results.push(multi_result(*op, r));
            }
            TxnResult::Multi(results)
        }
        body => apply_op(db, h, body, &mut fired),
    };
    if h.zxid > db.last_zxid {
        db.last_zxid = h.zxid;
    }
    Applied {
        header: h.clone(),
        result,
        fired,
    }
}

fn apply_op(db: &mut Database, h: &TxnHeader, body: &TxnBody, fired: &mut Vec<Fired>) -> TxnResult {
    let tree = &mut db.tree;
    let res = match body {
        TxnBody::Create {
            path,
            data,
            acl,
            owner,
            parent_cversion,
        } => tree
            .create(
                path,
                data.clone(),
                acl,
                NodeKind::from_stored_owner(*owner),
                *parent_cversion,
                h.zxid,
                h.time,
            )
            .map(|stat| {
                let f = tree.watches.node_created(path);
                if !f.is_empty() {
                    let acl = tree.get(path).map(|n| n.acl.clone()).unwrap_or_default();
                    fired.extend(stamp(tree, f, &acl));
                }
                TxnResult::Created {
                    path: path.clone(),
                    stat,
                }
            }),
        TxnBody::Delete { path } => {
            let acl = tree.get(path).map(|n| n.acl.clone()).unwrap_or_default();
            tree.delete(path, h.zxid).map(|()| {
                let f = tree.watches.node_deleted(path);
                fired.extend(stamp(tree, f, &acl));
                TxnResult::Deleted
            })
        }
        TxnBody::SetData {
            path,
            data,
            version,
        } => tree
            .set_data(path, data.clone(), *version, h.zxid, h.time)
            .map(|stat| {
                let f = tree.watches.data_changed(path);
                let acl = tree.get(path).map(|n| n.acl.clone()).unwrap_or_default();
                fired.extend(stamp(tree, f, &acl));
                TxnResult::Stat(stat)
            }),
        TxnBody::SetAcl {
            path,
            acl,
            aversion,
        } => tree.set_acl(path, acl, *aversion).map(TxnResult::Stat),
        TxnBody::Check { .. } => Ok(TxnResult::Checked),
        TxnBody::Error { code } => Ok(TxnResult::Error(*code)),
        TxnBody::CreateSession { .. } | TxnBody::CloseSession { .. } | TxnBody::Multi(_) => {
            Err(ErrorCode::MarshallingError)
        }
    };
    res.unwrap_or_else(|e| TxnResult::Error(e.code()))
}

/// Stamps fired events with the ACL that gates them: the node's own ACL
/// (`node_acl`, taken before a delete), or its parent's for child events.
fn stamp(tree: &DataTree, mut fired: Vec<Fired>, node_acl: &Acls) -> Vec<Fired> {
    for f in &mut fired {
        f.acl = if f.event == EventType::NodeChildrenChanged {
            tree.get(&f.path).map(|n| n.acl.clone()).unwrap_or_default()
        } else {
            node_acl.clone()
        };
    }
    fired
}

fn multi_result(op: i32, r: TxnResult) -> MultiResult {
    match r {
        TxnResult::Created { path, stat } => {
            if op == OpCode::Create.code() {
                MultiResult::Create(CreateResponse { path })
            } else {
                MultiResult::Create2(Create2Response { path, stat })
            }
        }
        TxnResult::Deleted => MultiResult::Delete,
        TxnResult::Stat(stat) => MultiResult::SetData(StatResponse { stat }),
        TxnResult::Checked => MultiResult::Check,
        TxnResult::Error(code) => MultiResult::Error(code),
        _ => MultiResult::Error(ErrorCode::MarshallingError.code()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_client::proto::Acl;

    fn txn(session_id: i64, zxid: i64, body: TxnBody) -> Txn {
        Txn {
            header: TxnHeader {
                session_id,
                cxid: 0,
                zxid,
                time: 0,
                op: 0,
            },
            body,
        }
    }

    fn create(session: i64, zxid: i64, path: &str, owner: i64) -> Txn {
        txn(
            session,
            zxid,
            TxnBody::Create {
                path: path.into(),
                data: None,
                acl: Acl::open_unsafe(),
                owner,
                parent_cversion: zxid as i32,
            },
        )
    }

    /// A closeSession deletes every ephemeral the session owns on this
    /// member, also those its transaction does not list (as ZooKeeper's
    /// killSession does), and nothing else.
    #[test]
    fn close_session_deletes_unlisted_ephemerals_of_that_session_only() {
        let (s, other) = (0x11, 0x22);
        let mut db = Database::default();
        apply(
            &mut db,
            &txn(s, 1, TxnBody::CreateSession { timeout_ms: 1000 }),
        );
        apply(
            &mut db,
            &txn(other, 2, TxnBody::CreateSession { timeout_ms: 1000 }),
        );
        for (zxid, path, owner) in [
            (3, "/listed", s),
            (4, "/unlisted", s),
            (5, "/persistent", 0),
            (6, "/theirs", other),
        ] {
            apply(&mut db, &create(s, zxid, path, owner));
        }
        let closed = apply(
            &mut db,
            &txn(
                s,
                7,
                TxnBody::CloseSession {
                    ephemerals: vec!["/listed".into()],
                },
            ),
        );
        assert_eq!(closed.result, TxnResult::SessionClosed);
        assert!(db.tree.get("/listed").is_none());
        assert!(
            db.tree.get("/unlisted").is_none(),
            "an ephemeral the transaction did not list outlived its session"
        );
        assert!(db.tree.get("/persistent").is_some());
        assert!(db.tree.get("/theirs").is_some());
        assert!(db.tree.ephemerals(s).is_empty());
        assert_eq!(db.tree.ephemerals(other), vec!["/theirs".to_string()]);
        assert!(!db.sessions.contains_key(&s));
        assert!(db.sessions.contains_key(&other));
    }
}
