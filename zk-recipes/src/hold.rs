//! A node that stands for something held (a lock, a lease): its identity,
//! the loss monitor, and release (now, or in the background).

use crate::error::{Error, LossReason, Result};
use crate::nodes::{release_node, spawn_release_after};
use crate::policy::{lost, ConnectionPolicy, HoldMonitor};
use std::future::Future;
use zk_client::{Client, Stat};

/// The node of a hold, released on drop.
pub(crate) struct Hold {
    client: Client,
    path: String,
    stat: Stat,
    monitor: HoldMonitor,
    released: bool,
}

impl std::fmt::Debug for Hold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hold")
            .field("path", &self.path)
            .field("czxid", &self.stat.czxid)
            .field("lost", &self.monitor.lost_reason())
            .finish()
    }
}

impl Hold {
    pub(crate) fn new(client: &Client, path: String, stat: Stat, policy: ConnectionPolicy) -> Hold {
        let monitor = HoldMonitor::start(client, &path, stat.ephemeral_owner, policy);
        Hold {
            client: client.clone(),
            path,
            stat,
            monitor,
            released: false,
        }
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn stat(&self) -> &Stat {
        &self.stat
    }

    pub(crate) fn session(&self) -> i64 {
        self.stat.ephemeral_owner
    }

    pub(crate) fn lost(&self) -> impl Future<Output = LossReason> + Send + 'static {
        lost(self.monitor.receiver())
    }

    pub(crate) fn lost_reason(&self) -> Option<LossReason> {
        self.monitor.lost_reason()
    }

    /// Deletes the node; if the connection is in trouble the delete goes on
    /// in the background. Fails with [`Error::Lost`] if the hold had been
    /// lost before (the node is deleted all the same, should it still be
    /// there).
    ///
    /// Dropped at any point, the release still happens (by `Drop`, in the
    /// background).
    pub(crate) async fn release(mut self) -> Result<()> {
        self.monitor.stop().await;
        // Read after the monitor stopped, so a loss it saw counts; our own
        // delete below cannot count as one.
        let lost = self.monitor.lost_reason();
        release_node(&self.client, &self.path, self.session()).await;
        self.released = true;
        match lost {
            Some(reason) => Err(Error::Lost {
                path: std::mem::take(&mut self.path),
                reason,
            }),
            None => Ok(()),
        }
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if !self.released {
            spawn_release_after(
                self.monitor.detach(),
                &self.client,
                std::mem::take(&mut self.path),
                self.session(),
            );
        }
    }
}
