//! Dynamic reconfiguration: changing the ensemble's membership
//! ([`Client::reconfig`]), reading and watching its configuration
//! ([`Client::get_config_watch`], [`Client::ensemble_config`]), and keeping
//! the client's host list in step with it ([`Client::update_hosts`] by hand,
//! [`Client::follow_ensemble`] as Curator's EnsembleTracker does).

use super::nodes::CONFIG_NODE;
use super::{unexpected, Client, WeakClient};
use crate::connect_string::ConnectString;
use crate::ensemble_config::EnsembleConfig;
use crate::error::{Error, Result};
use crate::proto::{PathWatchRequest, ReconfigRequest, Request, Response, Stat};
use crate::session::driver::Command;
use crate::watch::{OneshotWatch, WatchKind};
use bytes::Bytes;
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// A membership change for [`Client::reconfig`].
///
/// Incremental: [`Reconfig::add_server`] and [`Reconfig::remove_server`] (both may be
/// combined; adding a server line for a current member changes it, e.g. its
/// client port). Full: [`Reconfig::members`] names the whole new
/// membership. [`Reconfig::if_version`] makes the change conditional on the
/// current configuration's version (`BadVersion` otherwise).
///
/// ```
/// use zk_client::Reconfig;
///
/// let change = Reconfig::new()
///     .add_server("server.4=10.0.0.4:2888:3888:participant;10.0.0.4:2181")
///     .remove_server(2)
///     .if_version(0x1_0000_0000);
/// # let _ = change;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconfig {
    joining: Vec<String>,
    leaving: Vec<u64>,
    members: Option<Vec<String>>,
    version: i64,
}

impl Default for Reconfig {
    fn default() -> Self {
        Reconfig::new()
    }
}

impl Reconfig {
    /// An incremental change that changes nothing yet.
    pub fn new() -> Reconfig {
        Reconfig {
            joining: Vec::new(),
            leaving: Vec::new(),
            members: None,
            version: -1,
        }
    }

    /// Adds (or changes) a member: `server.<id>=<host>:<quorum port>:<election
    /// port>[:participant|observer][;[<client host>:]<client port>]`.
    pub fn add_server(mut self, server: impl Into<String>) -> Reconfig {
        self.joining.push(server.into());
        self
    }

    /// Removes the member with this id.
    pub fn remove_server(mut self, id: u64) -> Reconfig {
        self.leaving.push(id);
        self
    }

    /// A full (non-incremental) change: these server lines are the whole
    /// new membership.
    pub fn members<S: Into<String>>(servers: impl IntoIterator<Item = S>) -> Reconfig {
        Reconfig {
            members: Some(servers.into_iter().map(Into::into).collect()),
            ..Reconfig::new()
        }
    }

    /// Applies the change only if the current configuration's version is
    /// `version` (see [`EnsembleConfig::version`]); fails with `BadVersion`
    /// otherwise.
    pub fn if_version(mut self, version: i64) -> Reconfig {
        self.version = version;
        self
    }

    fn request(&self) -> ReconfigRequest {
        let join = |v: &[String]| (!v.is_empty()).then(|| v.join(","));
        match &self.members {
            Some(members) => ReconfigRequest {
                joining_servers: None,
                leaving_servers: None,
                new_members: Some(members.join(",")),
                cur_config_id: self.version,
            },
            None => ReconfigRequest {
                joining_servers: join(&self.joining),
                leaving_servers: join(&self.leaving.iter().map(u64::to_string).collect::<Vec<_>>()),
                new_members: None,
                cur_config_id: self.version,
            },
        }
    }
}

impl Client {
    /// Changes the ensemble's membership and returns the new configuration.
    ///
    /// ZooKeeper allows this only with `reconfigEnabled=true`
    /// (`ReconfigDisabled` otherwise) and to the superuser unless ACL checks
    /// are skipped (`NoAuth`); a change the new membership cannot commit
    /// fails with `NewConfigNoQuorum`, one racing another with
    /// `ReconfigInProgress`. Not retried after a connection loss (the change
    /// may have been applied: read the configuration to know).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future after the request was sent does not withdraw it:
    /// the change may still be applied.
    pub async fn reconfig(&self, change: &Reconfig) -> Result<(EnsembleConfig, Stat)> {
        let (reply, _) = self.call(Request::Reconfig(change.request())).await?;
        match reply.response {
            Response::GetData(r) => {
                let data = r.data.unwrap_or_default();
                Ok((EnsembleConfig::from_bytes(&data)?, r.stat))
            }
            other => Err(unexpected(other)),
        }
    }

    /// The ensemble's configuration, parsed (see [`Client::get_config`] for
    /// the raw bytes).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    pub async fn ensemble_config(&self) -> Result<EnsembleConfig> {
        let (data, _) = self.get_config().await?;
        EnsembleConfig::from_bytes(&data)
    }

    /// Like [`Client::get_config`], and leaves a one-shot watch that fires
    /// when the configuration changes (ZooKeeper's `getConfig(watch)`). The
    /// node is read without the chroot.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropped before it returns, no watch is registered on this
    /// client (a watch the server already left for the request fires at most
    /// once, to nobody).
    pub async fn get_config_watch(&self) -> Result<(Bytes, Stat, OneshotWatch)> {
        let request = Request::GetData(PathWatchRequest {
            path: CONFIG_NODE.to_string(),
            watch: true,
        });
        let (reply, watch) = self.watched(request, WatchKind::Data, CONFIG_NODE).await?;
        match reply?.response {
            Response::GetData(r) => Ok((r.data.unwrap_or_default(), r.stat, watch)),
            other => Err(unexpected(other)),
        }
    }

    /// Replaces the servers the client connects to (`host:port,...`; a
    /// chroot, if given, must be the client's own). The session stays: if
    /// the current server is still listed the connection is kept, otherwise
    /// the client moves to a listed one (a reconnect with the same session:
    /// `Suspended`, then `Reconnected`).
    ///
    /// # Cancel safety
    ///
    /// Dropped while it waits for room in the command queue, nothing changes;
    /// once the new list is handed to the connection task, it is applied even
    /// if the future is dropped.
    pub async fn update_hosts(&self, connect_string: &str) -> Result<()> {
        let parsed = ConnectString::parse(connect_string)?;
        if parsed.chroot.is_some() && parsed.chroot.as_deref() != self.inner.chroot.prefix() {
            return Err(Error::invalid_argument(
                "update_hosts cannot change the chroot",
            ));
        }
        let (reply, done) = oneshot::channel();
        self.send_command(Command::UpdateHosts {
            hosts: parsed.hosts,
            reply,
        })
        .await?;
        done.await.map_err(|_| Error::closed())
    }

    /// Follows the ensemble's configuration: a background task watches
    /// `/zookeeper/config` and, whenever it changes, makes the client-port
    /// addresses of its members the client's host list
    /// ([`Client::update_hosts`]), as Curator's EnsembleTracker does. A
    /// configuration without client addresses (reconfiguration disabled, or
    /// servers that do not list them) leaves the host list alone.
    ///
    /// The task holds only a [`WeakClient`]: it never keeps the session
    /// open by itself. It stops when the returned [`EnsembleFollower`] is
    /// dropped, when the client is closed, or when the last [`Client`]
    /// handle is dropped.
    pub fn follow_ensemble(&self) -> EnsembleFollower {
        let (tx, rx) = watch::channel(None);
        let task = tokio::spawn(follow(self.downgrade(), tx));
        EnsembleFollower { rx, task }
    }
}

/// The task behind [`Client::follow_ensemble`]; dropping it stops the task.
#[derive(Debug)]
pub struct EnsembleFollower {
    rx: watch::Receiver<Option<EnsembleConfig>>,
    task: tokio::task::JoinHandle<()>,
}

impl EnsembleFollower {
    /// The last configuration applied to the host list, if any yet.
    pub fn current(&self) -> Option<EnsembleConfig> {
        self.rx.borrow().clone()
    }

    /// Waits until a configuration with a version other than `version` has
    /// been applied to the host list, and returns it.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: nothing is consumed.
    pub async fn wait_for_change(&mut self, version: i64) -> Result<EnsembleConfig> {
        let mut rx = self.rx.clone();
        let config = rx
            .wait_for(|c| c.as_ref().is_some_and(|c| c.version != version))
            .await
            .map_err(|_| Error::closed())?;
        Ok(config.clone().unwrap_or_default())
    }
}

impl Drop for EnsembleFollower {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Pause before retrying after a failed read of the configuration.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

async fn follow(weak: WeakClient, tx: watch::Sender<Option<EnsembleConfig>>) {
    let mut applied: Option<i64> = None;
    loop {
        // A strong handle only while working: between changes the task
        // holds nothing that keeps the session open.
        let Some(client) = weak.upgrade() else {
            return;
        };
        let (data, watch) = match client.get_config_watch().await {
            Ok((data, _, watch)) => (data, watch),
            Err(e) if e.is_closed() => return,
            Err(e) => {
                tracing::debug!(error = %e, "reading the ensemble configuration failed");
                drop(client);
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
        };
        match EnsembleConfig::from_bytes(&data) {
            Ok(config) if applied != Some(config.version) && !config.client_hosts().is_empty() => {
                let hosts = config.connect_string();
                match client.update_hosts(&hosts).await {
                    Ok(()) => {
                        tracing::info!(version = format_args!("{:#x}", config.version), %hosts,
                            "host list follows the ensemble configuration");
                        applied = Some(config.version);
                        tx.send_replace(Some(config));
                    }
                    Err(e) if e.is_closed() => return,
                    Err(e) => tracing::warn!(error = %e, %hosts, "host list not updated"),
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "unreadable ensemble configuration ignored"),
        }
        drop(client);
        // Any event (a change, or the session ending) means: read again.
        let _ = watch.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_leave_unused_forms_null() {
        let r = Reconfig::new()
            .add_server("server.4=h:1:2;3")
            .add_server("server.5=h:4:5;6")
            .remove_server(2)
            .remove_server(3)
            .request();
        assert_eq!(
            r,
            ReconfigRequest {
                joining_servers: Some("server.4=h:1:2;3,server.5=h:4:5;6".into()),
                leaving_servers: Some("2,3".into()),
                new_members: None,
                cur_config_id: -1,
            }
        );
        let r = Reconfig::new().remove_server(1).if_version(7).request();
        assert_eq!((r.joining_servers, r.cur_config_id), (None, 7));
        let r = Reconfig::members(["server.1=h:1:2;3", "server.2=h:4:5;6"]).request();
        assert_eq!(
            (r.joining_servers, r.leaving_servers, r.new_members),
            (None, None, Some("server.1=h:1:2;3,server.2=h:4:5;6".into()))
        );
    }
}
