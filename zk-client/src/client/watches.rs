//! Watch operations: one-shot watches returned as futures, persistent watches
//! as streams, and watch removal.

use super::{unexpected, Client};
use crate::error::{Error, Result};
use crate::proto::path::validate_path;
use crate::proto::{
    AddWatchMode, AddWatchRequest, PathWatchRequest, Request, Response, Stat, WatcherType,
    WatchesRequest,
};
use crate::retry::Idempotence;
use crate::session::driver::WatchSender;
use crate::session::{Reply, WatchRequest};
use crate::watch::{event_queue, OneshotWatch, PersistentWatch, WatchKind};
use bytes::Bytes;
use tokio::sync::oneshot;

impl Client {
    /// Sends a watch-registering read; a fresh watcher per attempt, so a
    /// retried request registers exactly one. Returns the reply (or the
    /// error, for exists on a missing node, which still registers) and the
    /// watch handle.
    pub(super) async fn watched(
        &self,
        request: Request,
        kind: WatchKind,
        path: &str,
    ) -> Result<(Result<Reply>, OneshotWatch)> {
        let outcome = self
            .retrying(Idempotence::Safe, || {
                let request = request.clone();
                async move {
                    let (tx, rx) = oneshot::channel();
                    let id = self.next_watcher_id();
                    let watch = WatchRequest {
                        id,
                        sink: WatchSender::OneShot(Some(tx)),
                    };
                    let handle = OneshotWatch::new(rx, id, self.inner.unwatch.clone());
                    match self.submit(request, Some((kind, watch))).await {
                        Ok(reply) => Ok((Ok(reply), handle)),
                        Err(e) if kind == WatchKind::Exist && e.is_no_node() => {
                            Ok((Err(e), handle))
                        }
                        Err(e) => Err(e),
                    }
                }
            })
            .await;
        match outcome {
            Ok((outcome, _)) => Ok(outcome),
            Err(e) if e.is_no_node() && self.chroot_is_missing(&request).await => {
                Err(self.name_missing_chroot(e).with_path(path))
            }
            Err(e) => Err(e.with_path(path)),
        }
    }

    fn watch_request(&self, path: &str) -> Result<PathWatchRequest> {
        validate_path(path)?;
        Ok(PathWatchRequest {
            path: self.server_path(path),
            watch: true,
        })
    }

    /// Like [`Client::exists`], and leaves a one-shot watch that fires when
    /// the node is created, changed or deleted.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropped before it returns, no watch is registered on this
    /// client (a watch the server already left for the request fires at most
    /// once, to nobody).
    pub async fn exists_watch(&self, path: &str) -> Result<(Option<Stat>, OneshotWatch)> {
        let request = Request::Exists(self.watch_request(path)?);
        let (reply, watch) = self.watched(request, WatchKind::Exist, path).await?;
        match reply {
            Ok(reply) => match reply.response {
                Response::Stat(s) => Ok((Some(s.stat), watch)),
                other => Err(unexpected(other)),
            },
            Err(_) => Ok((None, watch)),
        }
    }

    /// Like [`Client::get_data`], and leaves a one-shot watch that fires when
    /// the node's data changes or the node is deleted.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropped before it returns, no watch is registered on this
    /// client (a watch the server already left for the request fires at most
    /// once, to nobody).
    pub async fn get_data_watch(&self, path: &str) -> Result<(Bytes, Stat, OneshotWatch)> {
        let request = Request::GetData(self.watch_request(path)?);
        let (reply, watch) = self.watched(request, WatchKind::Data, path).await?;
        match reply?.response {
            Response::GetData(r) => Ok((r.data.unwrap_or_default(), r.stat, watch)),
            other => Err(unexpected(other)),
        }
    }

    /// Like [`Client::get_children`], and leaves a one-shot watch that fires
    /// when the child list changes or the node is deleted.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropped before it returns, no watch is registered on this
    /// client (a watch the server already left for the request fires at most
    /// once, to nobody).
    pub async fn get_children_watch(&self, path: &str) -> Result<(Vec<String>, OneshotWatch)> {
        let request = Request::GetChildren(self.watch_request(path)?);
        let (reply, watch) = self.watched(request, WatchKind::Child, path).await?;
        match reply?.response {
            Response::GetChildren(r) => Ok((r.children, watch)),
            other => Err(unexpected(other)),
        }
    }

    /// Like [`Client::get_children2`], with a one-shot child watch.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropped before it returns, no watch is registered on this
    /// client (a watch the server already left for the request fires at most
    /// once, to nobody).
    pub async fn get_children2_watch(
        &self,
        path: &str,
    ) -> Result<(Vec<String>, Stat, OneshotWatch)> {
        let request = Request::GetChildren2(self.watch_request(path)?);
        let (reply, watch) = self.watched(request, WatchKind::Child, path).await?;
        match reply?.response {
            Response::GetChildren2(r) => Ok((r.children, r.stat, watch)),
            other => Err(unexpected(other)),
        }
    }

    /// Adds a persistent watch (`AddWatchMode::Persistent`: the node's
    /// creation, deletion, data and child-list changes) or a persistent
    /// recursive one (`AddWatchMode::PersistentRecursive`: creation,
    /// deletion and data changes of the node and every descendant). The
    /// node need not exist.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropped before it returns, no watch is registered on this
    /// client, and if the request already reached the server the client removes
    /// the server's watch again (removeWatches; a ZooKeeper 3.8 server keeps it
    /// until the session ends, and its events reach nobody).
    pub async fn add_watch(&self, path: &str, mode: AddWatchMode) -> Result<PersistentWatch> {
        validate_path(path)?;
        let kind = match mode {
            AddWatchMode::Persistent => WatchKind::Persistent,
            AddWatchMode::PersistentRecursive => WatchKind::PersistentRecursive,
        };
        let request = Request::AddWatch(AddWatchRequest {
            path: self.server_path(path),
            mode: mode.code(),
        });
        let (watch, _) = self
            .retrying(Idempotence::Safe, || {
                let request = request.clone();
                async move {
                    let (tx, rx) = event_queue(self.inner.watch_buffer);
                    let id = self.next_watcher_id();
                    let sink = WatchRequest {
                        id,
                        sink: WatchSender::Stream(tx),
                    };
                    let handle = PersistentWatch::new(rx, id, self.inner.unwatch.clone());
                    self.submit(request, Some((kind, sink))).await?;
                    Ok(handle)
                }
            })
            .await
            .map_err(|e| e.with_path(path))?;
        Ok(watch)
    }

    /// Removes every watch of `watcher_type` this client has on `path`,
    /// locally and on the server; each removed watch receives
    /// [`crate::WatchEvent::Removed`]. Fails with `NoWatcher` if there is none.
    ///
    /// # Cancel safety
    ///
    /// Dropped before it returns, the removal may or may not happen at the
    /// server; this client's watchers are removed only when the server's
    /// confirmation arrives (so they may stay registered).
    pub async fn remove_watches(&self, path: &str, watcher_type: WatcherType) -> Result<()> {
        validate_path(path)?;
        let request = Request::RemoveWatches(WatchesRequest {
            path: self.server_path(path),
            watcher_type: watcher_type.code(),
        });
        match self.call(request).await {
            Ok(_) => Ok(()),
            Err(e) if e.after_retry() && e.is(crate::proto::ErrorCode::NoWatcher) => Ok(()),
            Err(e) => Err(e.with_path(path)),
        }
    }

    /// Removes this client's watches of `watcher_type` on `path` without
    /// contacting the server (like ZooKeeper's `local` removal): each
    /// receives [`crate::WatchEvent::Removed`] at once, and the server-side
    /// watch stays until it fires (a persistent one until the session
    /// ends). Useful while disconnected, and for persistent watches on
    /// ZooKeeper 3.8, whose servers cannot remove them. Fails with
    /// `NoWatcher` if there is none.
    ///
    /// # Cancel safety
    ///
    /// Dropped while it waits for room in the request queue, nothing happens.
    /// Once handed to the connection task (the first poll, unless the queue is
    /// full) the watchers are removed anyway; only the answer is lost.
    pub async fn remove_watches_locally(
        &self,
        path: &str,
        watcher_type: WatcherType,
    ) -> Result<()> {
        validate_path(path)?;
        let (reply, rx) = oneshot::channel();
        self.send_command(crate::session::driver::Command::RemoveLocalWatches {
            path: self.server_path(path),
            watcher_type,
            reply,
        })
        .await?;
        match rx.await {
            Ok(0) => Err(Error::code_error(crate::proto::ErrorCode::NoWatcher).with_path(path)),
            Ok(_) => Ok(()),
            Err(_) => Err(Error::closed()),
        }
    }

    /// Whether watches of `watcher_type` exist on `path`, here and on the
    /// server. Fails with `NoWatcher` if not.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a read changes nothing. Dropped before it returns, its
    /// request may still be answered; the answer is discarded.
    pub async fn check_watches(&self, path: &str, watcher_type: WatcherType) -> Result<()> {
        validate_path(path)?;
        let request = Request::CheckWatches(WatchesRequest {
            path: self.server_path(path),
            watcher_type: watcher_type.code(),
        });
        self.call(request)
            .await
            .map(|_| ())
            .map_err(|e: Error| e.with_path(path))
    }
}
