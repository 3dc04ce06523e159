//! `/zookeeper/config`: the ensemble's configuration as ZooKeeper publishes
//! it to clients (what `getConfig` reads and Curator's EnsembleTracker
//! follows).

use super::Server;
use crate::server::txn::{Txn, TxnBody};
use crate::tree::data_tree::CONFIG;
use bytes::Bytes;
use zk_client::proto::{GetDataResponse, OpCode, Response, Stat};

/// The reconfigurations this server proposed (as leader) and applied, until
/// its member takes them.
#[derive(Debug, Default)]
pub(super) struct ConfigChanges {
    /// The zxid and next configuration text of the reconfig proposed last.
    proposed: Option<(i64, String)>,
    /// The configuration text a reconfig just applied installs.
    applied: Option<String>,
}

/// The next configuration's text, if `txn` is a reconfig.
fn reconfig_text(txn: &Txn) -> Option<String> {
    if txn.header.op != OpCode::Reconfig.code() {
        return None;
    }
    match &txn.body {
        TxnBody::SetData {
            path,
            data: Some(data),
            ..
        } if path == CONFIG => Some(String::from_utf8_lossy(data).into_owned()),
        _ => None,
    }
}

impl Server {
    /// Sets `/zookeeper/config` to `text` (`server.N=...` lines and
    /// `version=<hex>`), as a ZooKeeper member does when it loads its
    /// configuration: outside any transaction, data version -1, mzxid the
    /// configuration's version (the zxid that made it; 0 for a static
    /// one), as real ZooKeeper shows it. (ZooKeeper stamps the node's mtime
    /// with the load time; here it is 0, so that every member holds the
    /// same tree.)
    pub fn set_ensemble_config(&mut self, text: &str) {
        let data = Some(Bytes::copy_from_slice(text.as_bytes()));
        let zxid = zk_client::ensemble_config::EnsembleConfig::parse(text).map_or(0, |c| c.version);
        if let Err(e) = self.db.tree.set_data(CONFIG, data, -1, zxid, 0) {
            tracing::warn!(error = ?e, "cannot set /zookeeper/config");
        }
    }

    pub(super) fn note_proposed_config(&mut self, txn: &Txn) {
        if let Some(text) = reconfig_text(txn) {
            self.config_changes.proposed = Some((txn.header.zxid, text));
        }
    }

    pub(super) fn note_applied_config(&mut self, txn: &Txn) {
        if let Some(text) = reconfig_text(txn) {
            self.config_changes.applied = Some(text);
        }
    }

    /// If the proposal with `zxid` (just polled as a submission) is a
    /// reconfig, the text of the configuration it installs: replication must
    /// propose it as a reconfiguration.
    pub fn take_proposed_config(&mut self, zxid: i64) -> Option<String> {
        match self.config_changes.proposed.take() {
            Some((z, text)) if z == zxid => Some(text),
            other => {
                self.config_changes.proposed = other;
                None
            }
        }
    }

    /// The configuration text a reconfig applied since the last call
    /// installs: the member switches to it.
    pub fn take_applied_config(&mut self) -> Option<String> {
        self.config_changes.applied.take()
    }

    /// Tells preparation which members are synced with this leader (itself
    /// included): a reconfig needs a quorum of its voters among them. None
    /// (the default) means standalone, where reconfig is Unimplemented.
    pub fn set_synced_members(&mut self, synced: Option<Vec<u64>>) {
        self.prep.synced = synced;
    }

    /// The text of `/zookeeper/config`; None when empty (standalone).
    pub fn ensemble_config_text(&self) -> Option<String> {
        let data = self.db.tree.get(CONFIG)?.data.clone()?;
        (!data.is_empty()).then(|| String::from_utf8_lossy(&data).into_owned())
    }

    /// The reply to an applied reconfig: the configuration and its stat.
    pub(super) fn config_reply(&self, stat: Stat) -> Response {
        let data = self.db.tree.get(CONFIG).and_then(|n| n.data.clone());
        Response::GetData(GetDataResponse { data, stat })
    }
}
