//! `/zookeeper/config`: the ensemble's configuration as ZooKeeper publishes
//! it to clients (what `getConfig` reads and Curator's EnsembleTracker
//! follows).

use super::Server;
use crate::tree::data_tree::CONFIG;
use bytes::Bytes;

impl Server {
    /// Sets `/zookeeper/config` to `text` (`server.N=...` lines and
    /// `version=<hex>`), as a ZooKeeper member does when it loads its
    /// configuration: outside any transaction, data version -1, zxids 0.
    /// (ZooKeeper stamps the node's mtime with the load time; here it is 0,
    /// so that every member holds the same tree.)
    pub fn set_ensemble_config(&mut self, text: &str) {
        let data = Some(Bytes::copy_from_slice(text.as_bytes()));
        if let Err(e) = self.db.tree.set_data(CONFIG, data, -1, 0, 0) {
            tracing::warn!(error = ?e, "cannot set /zookeeper/config");
        }
    }
}
