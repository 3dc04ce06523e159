//! Carrying out member outputs, with the safety checks that run on each.

use bytes::Bytes;
use rand::RngExt;
use std::collections::BTreeMap;

use super::node::{decode_tree, encode_tree, Flush};
use super::ZabHarness;
use crate::storage::Zxid;
use crate::zab::{MemberId, Output, Role, ZabMessage};

impl ZabHarness {
    pub(super) fn carry_out(&mut self, id: MemberId, out: Output) {
        match &out {
            Output::Send {
                to,
                msg: ZabMessage::Ping { .. } | ZabMessage::PingReply { .. },
            } => {
                let _ = to;
            }
            Output::Send { to, msg } => self.log(|| format!("{id}->{to} {msg:?}")),
            Output::Commit(e) => self.log(|| format!("{id} COMMIT {:#x}", e.zxid)),
            other => self.log(|| format!("{id} {other:?}")),
        }
        match out {
            Output::Send { to, msg } => {
                if let ZabMessage::AckNewLeader { epoch } = msg {
                    self.check_ack_new_leader(id, epoch);
                }
                self.send(id, to, msg);
            }
            Output::SendSnapshot { to, zxid } => {
                let node = &self.nodes[&id];
                assert_eq!(
                    node.tree_zxid(),
                    zxid,
                    "seed {}: member {id} snapshot not at {zxid:#x}",
                    self.seed
                );
                let data = encode_tree(&node.tree);
                self.send(id, to, ZabMessage::Snap { zxid, data });
            }
            Output::Append(entries) => {
                let (lo, hi) = self.nodes[&id].flush_delay;
                let delay = if hi > lo {
                    self.rng.random_range(lo..=hi)
                } else {
                    lo
                };
                let now = self.now;
                let node = self.nodes.get_mut(&id).expect("node");
                let report = entries.last().map_or(0, |e| e.zxid);
                let due = node
                    .flushes
                    .back()
                    .map_or(now + delay, |f| f.due.max(now + delay));
                node.flushes.push_back(Flush {
                    due,
                    entries,
                    report,
                });
            }
            Output::Truncate(zxid) => {
                let node = self.nodes.get_mut(&id).expect("node");
                node.store.log.retain(|e| e.zxid <= zxid);
                for f in node.flushes.iter_mut() {
                    f.entries.retain(|e| e.zxid <= zxid);
                }
            }
            Output::SaveEpochs(epochs) => {
                self.nodes.get_mut(&id).expect("node").store.epochs = epochs;
            }
            Output::InstallSnapshot(snapshot) => {
                let node = self.nodes.get_mut(&id).expect("node");
                node.tree = decode_tree(&snapshot.data.to_bytes());
                node.store.snapshot = Some(snapshot);
                node.store.log.clear();
                node.flushes.clear();
                let tree = node.tree.clone();
                for (i, entry) in tree.iter().enumerate() {
                    self.check_applied(id, i, entry);
                }
            }
            Output::Commit(entry) => {
                let node = self.nodes.get_mut(&id).expect("node");
                assert!(
                    entry.zxid > node.tree_zxid(),
                    "seed {}: member {id} commit {:#x} out of order",
                    self.seed,
                    entry.zxid
                );
                node.tree.push((entry.zxid, entry.payload.clone()));
                let i = node.tree.len() - 1;
                let leading = node.m().role() == Role::Leading && node.m().is_serving();
                self.check_applied(id, i, &(entry.zxid, entry.payload.clone()));
                if leading {
                    self.acked.insert(entry.zxid, entry.payload);
                }
                self.adopt_if_reconfig(id, entry.zxid);
            }
            Output::RoleChanged {
                role,
                epoch,
                serving,
                ..
            } => {
                if role == Role::Leading && serving {
                    if let Some(prev) = self.leaders.insert(epoch, id) {
                        panic!(
                            "seed {}: epoch {epoch} established by {prev} and {id}",
                            self.seed
                        );
                    }
                    let tree: BTreeMap<Zxid, Bytes> =
                        self.nodes[&id].tree.iter().cloned().collect();
                    for (z, p) in &self.acked {
                        assert_eq!(
                            tree.get(z),
                            Some(p),
                            "seed {}: new leader {id} (epoch {epoch}) lost acknowledged {z:#x}",
                            self.seed
                        );
                    }
                }
            }
            Output::SyncDone(token) => self
                .nodes
                .get_mut(&id)
                .expect("node")
                .syncs_done
                .push(token),
            Output::Deliver { from, payload } => self
                .nodes
                .get_mut(&id)
                .expect("node")
                .delivered
                .push((from, payload)),
        }
    }

    fn check_applied(&mut self, id: MemberId, i: usize, entry: &(Zxid, Bytes)) {
        match self.global.get(i) {
            Some(g) => assert_eq!(
                g, entry,
                "seed {}: member {id} applied a divergent entry at {i}",
                self.seed
            ),
            None => {
                assert_eq!(
                    i,
                    self.global.len(),
                    "seed {}: member {id} applied past the global history",
                    self.seed
                );
                self.global.push(entry.clone());
            }
        }
    }

    fn check_ack_new_leader(&self, id: MemberId, epoch: u32) {
        let node = &self.nodes[&id];
        let target = self.nl_target.get(&id).copied().unwrap_or(0);
        assert_eq!(
            node.store.epochs.current, epoch,
            "seed {}: member {id} acked NEWLEADER before saving currentEpoch",
            self.seed
        );
        assert!(
            node.store.last() >= target,
            "seed {}: member {id} acked NEWLEADER with {target:#x} received but only {:#x} durable",
            self.seed,
            node.store.last()
        );
    }
}
