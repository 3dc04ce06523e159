//! The take loop shared by the queues whose items are taken in a sorted
//! order by reading and deleting them: Curator's `SimpleDistributedQueue`,
//! `DistributedDelayQueue` and `DistributedIdQueue` layouts.

use crate::error::Result;
use crate::nodes::{ensure_dir, join};
use crate::policy::wait_connected;
use crate::queue_frame;
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use zk_client::retry::NoRetry;
use zk_client::{Client, CreateMode};

/// Curator's `DistributedQueue` item prefix.
pub(crate) const QUEUE_PREFIX: &str = "queue-";
/// The separator of delay and id queue names.
pub(crate) const SEPARATOR: char = '|';

/// Which Curator queue's names, order and data format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// `qn-<seq>`, raw bytes, by name; the directory is a container.
    Simple,
    /// `queue-|<hex epoch ms>|<seq>`, framed, by due time; not before it.
    Delay,
    /// `queue-|<id>|<seq>`, framed, by name without the id (so by
    /// sequence).
    Id,
}

impl Layout {
    fn prefix(self) -> &'static str {
        match self {
            Layout::Simple => "qn-",
            Layout::Delay | Layout::Id => QUEUE_PREFIX,
        }
    }
}

/// A queue of one [`Layout`].
#[derive(Debug, Clone)]
pub(crate) struct ItemQueue {
    pub(crate) client: Client,
    pub(crate) path: String,
    layout: Layout,
    /// Items of a multi-item node (Curator's putMulti) not yet returned.
    pending: Arc<Mutex<VecDeque<Bytes>>>,
}

/// Milliseconds since the epoch, now.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The `|...|` part of a name (delay: the due time; id: the id).
pub(crate) fn separated(name: &str) -> Option<(&str, String)> {
    let first = name.find(SEPARATOR)?;
    let second = first + 1 + name[first + 1..].find(SEPARATOR)?;
    let rest = format!("{}{}", &name[..first], &name[second + 1..]);
    Some((&name[first + 1..second], rest))
}

/// The due time of a delay queue item.
fn due_ms(name: &str) -> Option<i64> {
    // Curator takes the last pair of separators.
    let second = name.rfind(SEPARATOR)?;
    let first = name[..second].rfind(SEPARATOR)?;
    i64::from_str_radix(&name[first + 1..second], 16).ok()
}

impl ItemQueue {
    pub(crate) fn new(client: &Client, path: String, layout: Layout) -> ItemQueue {
        ItemQueue {
            client: client.clone(),
            path,
            layout,
            pending: Arc::default(),
        }
    }

    /// Creates an item node named `name` + sequence; its name.
    pub(crate) async fn put(&self, name: &str, data: Bytes) -> Result<String> {
        let data = match self.layout {
            Layout::Simple => data,
            Layout::Delay | Layout::Id => queue_frame::encode(&[&data]),
        };
        let path = join(&self.path, name);
        loop {
            match self
                .client
                .create(&path, data.clone(), CreateMode::PersistentSequential)
                .await
            {
                Ok((created, _)) => return Ok(crate::nodes::basename(&created).to_string()),
                // Simple: Curator's EnsureContainers makes the queue a
                // container; DistributedQueue's path is persistent with
                // container parents.
                Err(e) if e.is_no_node() => {
                    ensure_dir(&self.client, &self.path, self.layout == Layout::Simple).await?
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The item names in Curator's order, foreign nodes left out.
    pub(crate) fn sorted(&self, children: Vec<String>) -> Vec<String> {
        let prefix = self.layout.prefix();
        let mut items: Vec<String> = children
            .into_iter()
            .filter(|c| c.starts_with(prefix))
            .collect();
        match self.layout {
            Layout::Simple => items.sort(),
            Layout::Delay => items.sort_by_key(|n| (due_ms(n).unwrap_or(0), n.clone())),
            Layout::Id => items.sort_by_key(|n| {
                separated(n)
                    .map(|(_, rest)| rest)
                    .unwrap_or_else(|| n.clone())
            }),
        }
        items
    }

    /// Removes and returns the head item, or `None` (also when the head
    /// of a delay queue is not due yet).
    pub(crate) async fn poll(&self) -> Result<Option<Bytes>> {
        if let Some(item) = self.pending.lock().ok().and_then(|mut p| p.pop_front()) {
            return Ok(Some(item));
        }
        let children = match self.client.get_children(&self.path).await {
            Ok(c) => c,
            Err(e) if e.is_no_node() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(self.take_first(children).await?.0)
    }

    /// Removes and returns the head item, waiting while there is none due
    /// (one child watch per wait; a delay queue also wakes when its head
    /// falls due).
    pub(crate) async fn take(&self) -> Result<Bytes> {
        loop {
            if let Some(item) = self.pending.lock().ok().and_then(|mut p| p.pop_front()) {
                return Ok(item);
            }
            let (children, watch) = match self.client.get_children_watch(&self.path).await {
                Ok(found) => found,
                Err(e) if e.is_no_node() => {
                    ensure_dir(&self.client, &self.path, self.layout == Layout::Simple).await?;
                    continue;
                }
                Err(e) if e.is_connection_loss() || e.is_session_expired() => {
                    wait_connected(&self.client).await?;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let (item, next_due) = self.take_first(children).await?;
            if let Some(item) = item {
                return Ok(item);
            }
            // Whatever the event (a child, a reaped directory, a lost
            // connection), list again; or when the head falls due.
            match next_due {
                Some(due) => {
                    let wait = Duration::from_millis(u64::try_from(due - now_ms()).unwrap_or(0));
                    let _ = tokio::time::timeout(wait, watch).await;
                }
                None => {
                    let _ = watch.await;
                }
            }
        }
    }

    /// Claims the first item of `children` still there (and due); the
    /// item, or the due time of the first item not due yet.
    async fn take_first(&self, children: Vec<String>) -> Result<(Option<Bytes>, Option<i64>)> {
        let no_retry = self.client.with_retry(NoRetry);
        for name in self.sorted(children) {
            if self.layout == Layout::Delay {
                let due = due_ms(&name).unwrap_or(0);
                if due > now_ms() {
                    return Ok((None, Some(due)));
                }
            }
            let path = join(&self.path, &name);
            let (data, stat) = match self.client.get_data(&path).await {
                Ok(found) => found,
                Err(e) if e.is_no_node() => continue,
                Err(e) => return Err(e.into()),
            };
            match no_retry.delete(&path, Some(stat.version)).await {
                Ok(()) => return Ok((self.unframe(&path, data), None)),
                // Another consumer took it.
                Err(e) if e.is_no_node() || e.is_bad_version() => {}
                // The delete may or may not have been applied: the item is
                // skipped rather than possibly delivered twice.
                Err(e) if e.is_connection_loss() => {
                    tracing::warn!(%path, "connection lost while taking an item; skipping it");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok((None, None))
    }

    /// The first item of a claimed node (the others kept for the next
    /// takes).
    fn unframe(&self, path: &str, data: Bytes) -> Option<Bytes> {
        if self.layout == Layout::Simple {
            return Some(data);
        }
        let mut items = match queue_frame::decode(&data) {
            Some(items) if !items.is_empty() => items.into_iter(),
            _ => {
                tracing::warn!(%path, "queue node not in Curator's framing; delivered as raw bytes");
                return Some(data);
            }
        };
        let first = items.next();
        if let Ok(mut p) = self.pending.lock() {
            p.extend(items);
        }
        first
    }

    /// Deletes every item whose name satisfies `pred`; how many.
    pub(crate) async fn remove_where(&self, pred: impl Fn(&str) -> bool) -> Result<usize> {
        let children = match self.client.get_children(&self.path).await {
            Ok(c) => c,
            Err(e) if e.is_no_node() => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        let mut removed = 0;
        for name in children.iter().filter(|n| pred(n)) {
            match self.client.delete(&join(&self.path, name), None).await {
                Ok(()) => removed += 1,
                Err(e) if e.is_no_node() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curators_delay_and_id_names() {
        assert_eq!(due_ms("queue-|18F3A|0000000004"), Some(0x18F3A));
        assert_eq!(
            separated("queue-|job-7|0000000004"),
            Some(("job-7", "queue-0000000004".to_string()))
        );
        assert_eq!(separated("queue-0000000004"), None);
    }
}
