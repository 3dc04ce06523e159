//! Node operations: create, delete, read, write, ACLs, children, multi.

use super::{unexpected, Client};
use crate::error::{Error, Result};
use crate::ops::{CreateOptions, Op, OpFailure, OpResult, ReadOp, ReadResult};
use crate::proto::path::{validate_create_path, validate_path};
use crate::proto::{
    Acl, CheckVersionRequest, ClientInfo, CreateRequest, CreateTtlRequest, DeleteRequest,
    ErrorCode, MultiResult, PathRequest, PathWatchRequest, Request, Response, SetAclRequest,
    SetDataRequest, Stat, MAX_TTL_MS,
};
use crate::retry::Idempotence;
use bytes::Bytes;

/// Path of ZooKeeper's dynamic configuration node.
pub const CONFIG_NODE: &str = "/zookeeper/config";

impl Client {
    /// Creates a node and returns its path (with the sequence suffix for
    /// sequential modes) and stat.
    ///
    /// `options` is a [`crate::CreateMode`] or a [`CreateOptions`] (ACL,
    /// TTL). Containers are created with createContainer, TTL nodes with
    /// createTTL, everything else with create2.
    ///
    /// Non-sequential creates are retried after a connection loss; if the
    /// retry finds the node already there and it is an ephemeral owned by
    /// this session, the first attempt created it and the call succeeds.
    /// Sequential creates are never retried (see [`crate::retry`]).
    ///
    /// # Cancel safety
    ///
    /// Dropped before it returns, the request may or may not be applied, as
    /// after a connection loss; if it is, it is applied whole. Nothing else is
    /// lost: the client and its other calls are unaffected. A node may exist afterwards
    /// (check with [`Client::exists`]); a sequential create that was applied
    /// leaves a node whose name the caller never learns.
    pub async fn create(
        &self,
        path: &str,
        data: impl Into<Bytes>,
        options: impl Into<CreateOptions>,
    ) -> Result<(String, Stat)> {
        let options = options.into();
        let ephemeral = options.mode.is_ephemeral();
        let request = self.create_request(path, data.into(), options)?;
        match self.call(request).await {
            Ok((reply, _)) => match reply.response {
                Response::Create2(r) => Ok((self.client_path_owned(r.path), r.stat)),
                other => Err(unexpected(other)),
            },
            Err(e) if e.is_node_exists() && e.after_retry() && ephemeral => {
                // Did the lost first attempt create it? Only if it is ours.
                // Boxed: this rare check would otherwise double the size of
                // every create's future.
                match Box::pin(self.exists(path)).await? {
                    Some(stat) if stat.ephemeral_owner == self.session_id() => {
                        Ok((path.to_string(), stat))
                    }
                    _ => Err(e.with_path(path)),
                }
            }
            Err(e) => Err(e.with_path(path)),
        }
    }

    fn create_request(&self, path: &str, data: Bytes, options: CreateOptions) -> Result<Request> {
        let mode = options.mode;
        validate_create_path(path, mode.is_sequential())?;
        let server_path = self.server_path(path);
        if mode.is_ttl() {
            let ttl = options
                .ttl
                .ok_or_else(|| Error::invalid_argument("TTL mode needs a ttl"))?;
            let ttl = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
            if !(1..=MAX_TTL_MS).contains(&ttl) {
                return Err(Error::invalid_argument(format!(
                    "ttl {ttl} ms outside 1..={MAX_TTL_MS}"
                )));
            }
            return Ok(Request::CreateTtl(CreateTtlRequest {
                path: server_path,
                data: Some(data),
                acl: options.acl,
                flags: mode.flags(),
                ttl,
            }));
        }
        if options.ttl.is_some() {
            return Err(Error::invalid_argument("ttl given for a mode without TTL"));
        }
        let req = CreateRequest {
            path: server_path,
            data: Some(data),
            acl: options.acl,
            flags: mode.flags(),
        };
        Ok(if mode.is_container() {
            Request::CreateContainer(req)
        } else {
            Request::Create2(req)
        })
    }

    /// Creates `path` and any missing ancestors as persistent nodes with
    /// empty data (`options` applies to `path` itself); an existing node is
    /// left as it is. Returns the stat of `path`. For container ancestors
    /// see [`Client::create_all_with_parents`].
    ///
    /// # Cancel safety
    ///
    /// It creates the missing nodes one request at a time, from the top.
    /// Dropped before it returns, the ancestors created so far stay (ordinary
    /// empty persistent nodes, which a later call reuses) and `path` may or may
    /// not exist.
    pub async fn create_all(
        &self,
        path: &str,
        data: impl Into<Bytes>,
        options: impl Into<CreateOptions>,
    ) -> Result<Stat> {
        self.create_all_with_parents(path, data, options, crate::proto::CreateMode::Persistent)
            .await
    }

    /// Deletes a node; `version` is the expected data version (`None`: any).
    ///
    /// Retried after a connection loss; a retry that finds the node gone
    /// counts as success (the lost attempt deleted it, or someone else did).
    ///
    /// # Cancel safety
    ///
    /// Dropped before it returns, the request may or may not be applied, as
    /// after a connection loss; if it is, it is applied whole. Nothing else is
    /// lost: the client and its other calls are unaffected.
    pub async fn delete(&self, path: &str, version: Option<i32>) -> Result<()> {
        validate_path(path)?;
        let request = Request::Delete(DeleteRequest {
            path: self.server_path(path),
            version: version.unwrap_or(-1),
        });
        match self.call(request).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_no_node() && e.after_retry() => Ok(()),
            Err(e) => Err(e.with_path(path)),
        }
    }

    /// The node's stat, or `None` if it does not exist.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a read changes nothing. Dropped before it returns, its
    /// request may still be answered; the answer is discarded.
    pub async fn exists(&self, path: &str) -> Result<Option<Stat>> {
        validate_path(path)?;
        let request = Request::Exists(PathWatchRequest {
            path: self.server_path(path),
            watch: false,
        });
        match self.call(request).await {
            Ok((reply, _)) => match reply.response {
                Response::Stat(s) => Ok(Some(s.stat)),
                other => Err(unexpected(other)),
            },
            Err(e) if e.is_no_node() => Ok(None),
            Err(e) => Err(e.with_path(path)),
        }
    }

    /// The node's data and stat.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a read changes nothing. Dropped before it returns, its
    /// request may still be answered; the answer is discarded.
    pub async fn get_data(&self, path: &str) -> Result<(Bytes, Stat)> {
        validate_path(path)?;
        let request = Request::GetData(PathWatchRequest {
            path: self.server_path(path),
            watch: false,
        });
        let (reply, _) = self.call(request).await.map_err(|e| e.with_path(path))?;
        match reply.response {
            Response::GetData(r) => Ok((r.data.unwrap_or_default(), r.stat)),
            other => Err(unexpected(other)),
        }
    }

    /// Replaces the node's data; `version` is the expected data version
    /// (`None`: any). Returns the new stat.
    ///
    /// # Cancel safety
    ///
    /// Dropped before it returns, the request may or may not be applied, as
    /// after a connection loss; if it is, it is applied whole. Nothing else is
    /// lost: the client and its other calls are unaffected.
    pub async fn set_data(
        &self,
        path: &str,
        data: impl Into<Bytes>,
        version: Option<i32>,
    ) -> Result<Stat> {
        validate_path(path)?;
        let request = Request::SetData(SetDataRequest {
            path: self.server_path(path),
            data: Some(data.into()),
            version: version.unwrap_or(-1),
        });
        let (reply, _) = self.call(request).await.map_err(|e| e.with_path(path))?;
        match reply.response {
            Response::Stat(s) => Ok(s.stat),
            other => Err(unexpected(other)),
        }
    }

    /// The node's ACL and stat.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a read changes nothing. Dropped before it returns, its
    /// request may still be answered; the answer is discarded.
    pub async fn get_acl(&self, path: &str) -> Result<(Vec<Acl>, Stat)> {
        validate_path(path)?;
        let request = Request::GetAcl(PathRequest {
            path: self.server_path(path),
        });
        let (reply, _) = self.call(request).await.map_err(|e| e.with_path(path))?;
        match reply.response {
            Response::GetAcl(r) => Ok((r.acl, r.stat)),
            other => Err(unexpected(other)),
        }
    }

    /// Replaces the node's ACL; `version` is the expected ACL version
    /// (`aversion`, `None`: any). Returns the new stat.
    ///
    /// # Cancel safety
    ///
    /// Dropped before it returns, the request may or may not be applied, as
    /// after a connection loss; if it is, it is applied whole. Nothing else is
    /// lost: the client and its other calls are unaffected.
    pub async fn set_acl(&self, path: &str, acl: Vec<Acl>, version: Option<i32>) -> Result<Stat> {
        validate_path(path)?;
        let request = Request::SetAcl(SetAclRequest {
            path: self.server_path(path),
            acl,
            version: version.unwrap_or(-1),
        });
        let (reply, _) = self.call(request).await.map_err(|e| e.with_path(path))?;
        match reply.response {
            Response::Stat(s) => Ok(s.stat),
            other => Err(unexpected(other)),
        }
    }

    /// The names of the node's children (unordered, as the server lists them).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a read changes nothing. Dropped before it returns, its
    /// request may still be answered; the answer is discarded.
    pub async fn get_children(&self, path: &str) -> Result<Vec<String>> {
        validate_path(path)?;
        let request = Request::GetChildren(PathWatchRequest {
            path: self.server_path(path),
            watch: false,
        });
        let (reply, _) = self.call(request).await.map_err(|e| e.with_path(path))?;
        match reply.response {
            Response::GetChildren(r) => Ok(r.children),
            other => Err(unexpected(other)),
        }
    }

    /// The names of the node's children and the node's stat.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a read changes nothing. Dropped before it returns, its
    /// request may still be answered; the answer is discarded.
    pub async fn get_children2(&self, path: &str) -> Result<(Vec<String>, Stat)> {
        validate_path(path)?;
        let request = Request::GetChildren2(PathWatchRequest {
            path: self.server_path(path),
            watch: false,
        });
        let (reply, _) = self.call(request).await.map_err(|e| e.with_path(path))?;
        match reply.response {
            Response::GetChildren2(r) => Ok((r.children, r.stat)),
            other => Err(unexpected(other)),
        }
    }

    /// The number of descendants of the node (children, grandchildren, ...).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a read changes nothing. Dropped before it returns, its
    /// request may still be answered; the answer is discarded.
    pub async fn get_all_children_number(&self, path: &str) -> Result<i32> {
        validate_path(path)?;
        let request = Request::GetAllChildrenNumber(PathRequest {
            path: self.server_path(path),
        });
        let (reply, _) = self.call(request).await.map_err(|e| e.with_path(path))?;
        match reply.response {
            Response::AllChildrenNumber(r) => Ok(r.total_number),
            other => Err(unexpected(other)),
        }
    }

    /// Paths of this session's ephemeral nodes whose path starts with
    /// `prefix` (a string prefix, not only a subtree; `"/"` for all).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a read changes nothing. Dropped before it returns, its
    /// request may still be answered; the answer is discarded.
    pub async fn get_ephemerals(&self, prefix: &str) -> Result<Vec<String>> {
        let request = Request::GetEphemerals(PathRequest {
            path: self.server_path(prefix),
        });
        let (reply, _) = self.call(request).await.map_err(|e| e.with_path(prefix))?;
        match reply.response {
            Response::Ephemerals(r) => {
                Ok(r.ephemerals.iter().map(|p| self.client_path(p)).collect())
            }
            other => Err(unexpected(other)),
        }
    }

    /// Waits until the server this client is connected to has applied every
    /// write the leader committed before the call.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a sync changes nothing. Dropped before it returns, the
    /// server may still complete it; only the wait is lost.
    pub async fn sync(&self, path: &str) -> Result<()> {
        validate_path(path)?;
        let request = Request::Sync(PathRequest {
            path: self.server_path(path),
        });
        self.call(request).await.map_err(|e| e.with_path(path))?;
        Ok(())
    }

    /// The identities this connection has (`ip`, `digest`, `super`, ...).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a read changes nothing. Dropped before it returns, its
    /// request may still be answered; the answer is discarded.
    pub async fn who_am_i(&self) -> Result<Vec<ClientInfo>> {
        let (reply, _) = self.call(Request::WhoAmI).await?;
        match reply.response {
            Response::WhoAmI(r) => Ok(r.client_info),
            other => Err(unexpected(other)),
        }
    }

    /// The ensemble's dynamic configuration (the data of `/zookeeper/config`,
    /// read without the chroot).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a read changes nothing. Dropped before it returns, its
    /// request may still be answered; the answer is discarded.
    pub async fn get_config(&self) -> Result<(Bytes, Stat)> {
        let request = Request::GetData(PathWatchRequest {
            path: CONFIG_NODE.to_string(),
            watch: false,
        });
        let (reply, _) = self.call(request).await?;
        match reply.response {
            Response::GetData(r) => Ok((r.data.unwrap_or_default(), r.stat)),
            other => Err(unexpected(other)),
        }
    }

    /// Applies `ops` atomically: all succeed or none is applied.
    ///
    /// On failure the error's [`Error::code`] and [`Error::path`] are the
    /// failing op's, [`Error::failed_op`] is its index, and
    /// [`Error::multi_failures`] says what became of every op
    /// (`[not applied: another op failed, failed: bad version (-103), ...]`;
    /// the wire's codes are in [`Error::multi_results`]). Not retried after
    /// a connection loss (see [`crate::retry`]).
    ///
    /// # Cancel safety
    ///
    /// Dropped before it returns, the transaction may or may not be applied,
    /// as after a connection loss; either every op is applied or none is.
    pub async fn multi(&self, ops: Vec<Op>) -> Result<Vec<OpResult>> {
        let mut requests = Vec::with_capacity(ops.len());
        for op in &ops {
            requests.push(self.op_request(op)?);
        }
        let request = Request::Multi(requests);
        let (reply, _) = self.call_ref(&request).await?;
        let results = match reply.response {
            Response::Multi(results) => results,
            other => return Err(unexpected(other)),
        };
        if results.iter().any(|r| r.error().is_some()) {
            let Request::Multi(requests) = &request else {
                return Err(Error::protocol("multi request changed kind"));
            };
            let err = multi_failed(&ops, results);
            let failing = err.failed_op().and_then(|i| requests.get(i));
            if let (true, Some(request)) = (err.is_no_node(), failing) {
                if self.chroot_is_missing(request).await {
                    return Err(self.name_missing_chroot(err));
                }
            }
            return Err(err);
        }
        results
            .into_iter()
            .map(|r| match r {
                MultiResult::Create(c) => Ok(OpResult::Create {
                    path: self.client_path(&c.path),
                    stat: None,
                }),
                MultiResult::Create2(c) => Ok(OpResult::Create {
                    path: self.client_path(&c.path),
                    stat: Some(c.stat),
                }),
                MultiResult::Delete => Ok(OpResult::Delete),
                MultiResult::SetData(s) => Ok(OpResult::SetData(s.stat)),
                MultiResult::Check => Ok(OpResult::Check),
                other => Err(Error::protocol(format!(
                    "unexpected multi result {other:?}"
                ))),
            })
            .collect()
    }

    fn op_request(&self, op: &Op) -> Result<Request> {
        Ok(match op {
            Op::Create {
                path,
                data,
                options,
            } => match self.create_request(path, data.clone(), options.clone())? {
                // Inside multi a plain create uses opcode 1, as ZooKeeper's
                // own client sends it (servers answer it with the path only).
                Request::Create2(r) => Request::Create(r),
                other => other,
            },
            Op::Delete { path, version } => {
                validate_path(path)?;
                Request::Delete(DeleteRequest {
                    path: self.server_path(path),
                    version: version.unwrap_or(-1),
                })
            }
            Op::SetData {
                path,
                data,
                version,
            } => {
                validate_path(path)?;
                Request::SetData(SetDataRequest {
                    path: self.server_path(path),
                    data: Some(data.clone()),
                    version: version.unwrap_or(-1),
                })
            }
            Op::Check { path, version } => {
                validate_path(path)?;
                Request::Check(CheckVersionRequest {
                    path: self.server_path(path),
                    version: version.unwrap_or(-1),
                })
            }
        })
    }

    /// Runs several reads in one round trip. Each read succeeds or fails on
    /// its own.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a read changes nothing. Dropped before it returns, its
    /// request may still be answered; the answer is discarded.
    pub async fn multi_read(&self, ops: Vec<ReadOp>) -> Result<Vec<Result<ReadResult>>> {
        let mut requests = Vec::with_capacity(ops.len());
        for op in &ops {
            let (ReadOp::GetData(path) | ReadOp::GetChildren(path)) = op;
            validate_path(path)?;
            let req = PathWatchRequest {
                path: self.server_path(path),
                watch: false,
            };
            requests.push(match op {
                ReadOp::GetData(_) => Request::GetData(req),
                ReadOp::GetChildren(_) => Request::GetChildren(req),
            });
        }
        let idem = Idempotence::Safe;
        let request = Request::MultiRead(requests);
        let (reply, _) = self
            .retrying(idem, || self.submit(request.clone(), None))
            .await?;
        let results = match reply.response {
            Response::Multi(results) => results,
            other => return Err(unexpected(other)),
        };
        let Request::MultiRead(requests) = &request else {
            return Err(Error::protocol("multiRead request changed kind"));
        };
        // One look decides for every NoNode whether the chroot is missing.
        let first_no_node = results
            .iter()
            .position(|r| r.error() == Some(ErrorCode::NoNode.code()));
        let chroot_missing = match first_no_node.and_then(|i| requests.get(i)) {
            Some(request) => self.chroot_is_missing(request).await,
            None => false,
        };
        Ok(results
            .into_iter()
            .zip(&ops)
            .map(|(r, op)| {
                let path = match op {
                    ReadOp::GetData(p) | ReadOp::GetChildren(p) => p,
                };
                match r {
                    MultiResult::GetData(d) => {
                        Ok(ReadResult::Data(d.data.unwrap_or_default(), d.stat))
                    }
                    MultiResult::GetChildren(c) => Ok(ReadResult::Children(c.children)),
                    MultiResult::Error(code) => {
                        let err = Error::from_code(code).with_path(path);
                        if chroot_missing && err.is_no_node() {
                            Err(self.name_missing_chroot(err))
                        } else {
                            Err(err)
                        }
                    }
                    other => Err(Error::protocol(format!(
                        "unexpected multiRead result {other:?}"
                    ))),
                }
            })
            .collect())
    }
}

/// The error of a multi the server refused: the failing op's code and
/// path, and what became of every op.
fn multi_failed(ops: &[Op], results: Vec<MultiResult>) -> Error {
    let failures = OpFailure::from_results(&results);
    let index = failures.iter().position(OpFailure::is_failed);
    let raw = index.map_or(ErrorCode::RuntimeInconsistency.code(), |i| {
        failures[i].wire_code()
    });
    let mut err = Error::from_code(raw);
    if let Some(i) = index {
        err = err.with_message(format!(
            "op {} of {} in a multi failed, so none was applied",
            i + 1,
            failures.len()
        ));
        if let Some(op) = ops.get(i) {
            err = err.with_path(op_path(op));
        }
    }
    err.with_multi_results(results)
}

fn op_path(op: &Op) -> &str {
    match op {
        Op::Create { path, .. }
        | Op::Delete { path, .. }
        | Op::SetData { path, .. }
        | Op::Check { path, .. } => path,
    }
}
