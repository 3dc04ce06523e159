//! The chroot of a connect string (`host:port/app`): created on first use
//! when the builder asks for it (as Curator's namespace is), and named in
//! the `NoNode` errors its absence causes.

use super::Client;
use crate::error::{Error, Result};
use crate::proto::path::parent;
use crate::proto::{Acl, CreateMode, CreateRequest, PathWatchRequest, Request};
use crate::retry::Idempotence;
use bytes::Bytes;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// How long a confirmation that the chroot exists is trusted when a
/// `NoNode` error could have another cause, so a client that meets many
/// `NoNode` errors asks at most once per period.
const CONFIRMATION_TRUSTED_FOR: Duration = Duration::from_secs(1);

/// Per-session state of the chroot.
#[derive(Debug)]
pub(super) struct ChrootState {
    /// Create the chroot on first use.
    create: bool,
    /// The chroot was found or created (reset when it is found missing).
    ready: AtomicBool,
    /// One first use creates it; the others wait for it.
    creating: tokio::sync::Mutex<()>,
    /// When the chroot was last seen to exist.
    confirmed_at: std::sync::Mutex<Option<Instant>>,
}

impl ChrootState {
    pub(super) fn new(create: bool) -> ChrootState {
        ChrootState {
            create,
            ready: AtomicBool::new(false),
            creating: tokio::sync::Mutex::new(()),
            confirmed_at: std::sync::Mutex::new(None),
        }
    }

    fn confirm(&self) {
        if let Ok(mut at) = self.confirmed_at.lock() {
            *at = Some(Instant::now());
        }
    }

    fn recently_confirmed(&self) -> bool {
        self.confirmed_at
            .lock()
            .ok()
            .and_then(|at| *at)
            .is_some_and(|at| at.elapsed() < CONFIRMATION_TRUSTED_FOR)
    }
}

impl Client {
    /// Whether [`Client::ensure_chroot`] has work to do (the builder asked
    /// for the chroot to be created and it is not confirmed yet).
    pub(super) fn chroot_pending(&self) -> bool {
        let state = &self.inner.chroot_state;
        state.create && !state.ready.load(Ordering::Acquire)
    }

    /// Before a request under the chroot: creates the chroot if the builder
    /// asked for it and it has not been found yet. Cancel-safe: a dropped
    /// call leaves whatever it created, and the next call finishes the job.
    pub(super) async fn ensure_chroot(&self) -> Result<()> {
        let state = &self.inner.chroot_state;
        if !self.chroot_pending() {
            return Ok(());
        }
        let Some(root) = self.inner.chroot.prefix() else {
            return Ok(());
        };
        let _one_at_a_time = state.creating.lock().await;
        if state.ready.load(Ordering::Acquire) {
            return Ok(());
        }
        self.create_chroot(root)
            .await
            .map_err(|e| e.with_message(format!("could not create the chroot {root}")))?;
        state.confirm();
        state.ready.store(true, Ordering::Release);
        Ok(())
    }

    /// Creates `root` and any missing ancestors as empty persistent nodes
    /// with an open ACL. Looks first: creating needs CREATE on the parent
    /// even when the node is there.
    async fn create_chroot(&self, root: &str) -> Result<()> {
        if self.server_node_exists(root).await? {
            return Ok(());
        }
        // Bottom-up, so only what is missing is created (an existing
        // ancestor may refuse creates).
        let mut missing = vec![root.to_string()];
        while let Some(path) = missing.last().cloned() {
            let request = Request::Create2(CreateRequest {
                path: path.clone(),
                data: Some(Bytes::new()),
                acl: Acl::open_unsafe(),
                flags: CreateMode::Persistent.flags(),
            });
            let created = self
                .retrying(Idempotence::Safe, || self.submit_raw(request.clone(), None))
                .await;
            match created {
                Ok(_) => {}
                Err(e) if e.is_node_exists() => {}
                Err(e) if e.is_no_node() => {
                    missing.push(parent(&path).to_string());
                    continue;
                }
                Err(e) => return Err(e.with_path(path)),
            }
            missing.pop();
            tracing::info!(path = %path, "created chroot node");
        }
        Ok(())
    }

    async fn server_node_exists(&self, server_path: &str) -> Result<bool> {
        let request = Request::Exists(PathWatchRequest {
            path: server_path.to_string(),
            watch: false,
        });
        match self
            .retrying(Idempotence::Safe, || self.submit_raw(request.clone(), None))
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_no_node() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Whether a `NoNode` answer to `request` (server paths) means the
    /// chroot itself is missing. Certain without asking when the request is
    /// on the chroot node or creates a child of it; otherwise the server is
    /// asked, unless the chroot was seen recently.
    pub(super) async fn chroot_is_missing(&self, request: &Request) -> bool {
        let Some(root) = self.inner.chroot.prefix() else {
            return false;
        };
        let state = &self.inner.chroot_state;
        let path = request.path().unwrap_or_default();
        let creates = matches!(
            request,
            Request::Create(_)
                | Request::Create2(_)
                | Request::CreateContainer(_)
                | Request::CreateTtl(_)
        );
        let missing = if path == root || (creates && parent(path) == root) {
            true
        } else if state.recently_confirmed() {
            false
        } else {
            // Unknown (a failed check) counts as present: the error stays
            // as the server gave it.
            matches!(self.server_node_exists(root).await, Ok(false))
        };
        if missing {
            state.ready.store(false, Ordering::Release);
        } else {
            state.confirm();
        }
        missing
    }

    /// `err` (a `NoNode`), saying that the chroot is what is missing.
    pub(super) fn name_missing_chroot(&self, err: Error) -> Error {
        let root = self.inner.chroot.prefix().unwrap_or_default();
        let hint = if self.inner.chroot_state.create {
            "it was deleted after this client created it, and could not be created again"
        } else {
            "create it, or build the client with ClientBuilder::create_chroot(true)"
        };
        let named = format!("the chroot {root} does not exist ({hint})");
        let message = match err.message() {
            Some(m) => format!("{m}; {named}"),
            None => named,
        };
        err.with_message(message)
    }

    /// Runs a request that failed with `NoNode` again if the chroot was the
    /// missing node and may be created; else names the chroot in the error.
    pub(super) async fn after_no_node<T, F, Fut>(
        &self,
        err: Error,
        request: &Request,
        again: F,
    ) -> Result<T>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        if !self.chroot_is_missing(request).await {
            return Err(err);
        }
        if self.inner.chroot_state.create && self.ensure_chroot().await.is_ok() {
            return match again().await {
                Err(e) if e.is_no_node() && self.chroot_is_missing(request).await => {
                    Err(self.name_missing_chroot(e))
                }
                other => other,
            };
        }
        Err(self.name_missing_chroot(err))
    }
}
