//! Whole-path operations: create a path with its missing ancestors
//! (persistent or container ancestors) and delete a subtree.

use super::Client;
use crate::error::{Error, Result};
use crate::ops::CreateOptions;
use crate::proto::path::validate_path;
use crate::proto::{CreateMode, ErrorCode, Stat};
use bytes::Bytes;

/// How often a whole-path operation starts over when a concurrent change
/// (an ancestor reaped, a child added) got in its way.
const RACE_ATTEMPTS: usize = 20;

impl Client {
    /// Creates `path` and any missing ancestors; the ancestors are created
    /// with `parent_mode`, which must be [`CreateMode::Persistent`] or
    /// [`CreateMode::Container`] (Curator's
    /// `creatingParentContainersIfNeeded`: the server deletes a container
    /// once its last child is gone, so directories of locks, latches and
    /// service registries do not pile up). `options` applies to `path`
    /// itself; an existing `path` is left as it is. Returns the stat of
    /// `path`.
    ///
    /// An ancestor that disappears while the path is being created (a
    /// container reaped in between) is created again.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: dropped midway, some ancestors may have been
    /// created and `path` not (calling it again completes the path).
    pub async fn create_all_with_parents(
        &self,
        path: &str,
        data: impl Into<Bytes>,
        options: impl Into<CreateOptions>,
        parent_mode: CreateMode,
    ) -> Result<Stat> {
        if !matches!(parent_mode, CreateMode::Persistent | CreateMode::Container) {
            return Err(Error::invalid_argument(format!(
                "parents must be persistent or containers, not {parent_mode:?}"
            )));
        }
        let options = options.into();
        validate_path(path)?;
        let data = data.into();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        if segments.is_empty() {
            return self
                .exists("/")
                .await?
                .ok_or_else(|| Error::code_error(ErrorCode::NoNode));
        }
        let parent_options = CreateOptions {
            mode: parent_mode,
            acl: options.acl.clone(),
            ttl: None,
        };
        let mut attempts = 0;
        'again: loop {
            attempts += 1;
            let mut prefix = String::new();
            for (i, segment) in segments.iter().enumerate() {
                prefix.push('/');
                prefix.push_str(segment);
                let last = i + 1 == segments.len();
                let result = if last {
                    self.create(&prefix, data.clone(), options.clone()).await
                } else {
                    self.create(&prefix, Bytes::new(), parent_options.clone())
                        .await
                };
                match result {
                    Ok((_, stat)) if last => return Ok(stat),
                    Ok(_) => {}
                    Err(e) if e.is_node_exists() => {
                        if last {
                            match self.exists(&prefix).await? {
                                Some(stat) => return Ok(stat),
                                None if attempts < RACE_ATTEMPTS => continue 'again,
                                None => return Err(e),
                            }
                        }
                    }
                    // An ancestor we saw (or made) was removed meanwhile.
                    Err(e) if e.is_no_node() && i > 0 && attempts < RACE_ATTEMPTS => {
                        continue 'again
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }

    /// Deletes `path` and everything below it (Curator's
    /// `deletingChildrenIfNeeded`); a missing `path` is not an error.
    /// Children created while the delete runs are deleted too (it starts
    /// over when the server reports a node not empty, a bounded number of
    /// times).
    ///
    /// It is not atomic: other clients can see a partly deleted subtree.
    /// For an atomic delete of a small subtree, use [`Client::multi`].
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: dropped midway, part of the subtree may be deleted
    /// (calling it again finishes the job).
    pub async fn delete_all(&self, path: &str) -> Result<()> {
        validate_path(path)?;
        if path == "/" {
            return Err(Error::invalid_argument("refusing to delete the root"));
        }
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.delete_subtree(path).await {
                Ok(()) => return Ok(()),
                Err(e) if e.code() == Some(ErrorCode::NotEmpty) && attempts < RACE_ATTEMPTS => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// One post-order pass over the subtree, without recursion (deep trees
    /// do not grow the stack).
    async fn delete_subtree(&self, path: &str) -> Result<()> {
        // (path, children listed?)
        let mut stack = vec![(path.to_string(), false)];
        while let Some((node, listed)) = stack.pop() {
            if listed {
                match self.delete(&node, None).await {
                    Ok(()) => {}
                    Err(e) if e.is_no_node() => {}
                    Err(e) => return Err(e),
                }
                continue;
            }
            let children = match self.get_children(&node).await {
                Ok(c) => c,
                Err(e) if e.is_no_node() => continue,
                Err(e) => return Err(e),
            };
            stack.push((node.clone(), true));
            for child in children {
                let child_path = if node == "/" {
                    format!("/{child}")
                } else {
                    format!("{node}/{child}")
                };
                stack.push((child_path, false));
            }
        }
        Ok(())
    }
}
