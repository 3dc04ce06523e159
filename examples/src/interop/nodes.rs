//! `PersistentNode` and `PersistentTtlNode` layouts against Curator's
//! (twin: `Nodes.java`).

use super::harness::{Harness, Result};
use std::time::Duration;
use zk_client::CreateMode;
use zk_recipes::{PersistentNode, PersistentTtlNode};

/// `persistent-node` (layout only).
pub async fn run(h: &Harness, _phase: &str) -> Result<()> {
    let c = h.new_client().await?;
    let root = h.layout_root(&c).await?;
    let plain = PersistentNode::new(
        &c,
        format!("{root}/app/nodes/plain"),
        CreateMode::Ephemeral,
        "d",
    );
    let seq = PersistentNode::new(
        &c,
        format!("{root}/app/nodes/seq-"),
        CreateMode::EphemeralSequential,
        "d",
    );
    let ttl = PersistentTtlNode::new(
        &c,
        format!("{root}/app/ttl/node"),
        Duration::from_secs(60),
        "d",
    );
    plain.start();
    seq.start();
    ttl.start();
    let limit = Duration::from_secs(30);
    h.check(plain.wait_for_initial_create(limit).await?, || {
        "plain node not created".into()
    });
    h.check(seq.wait_for_initial_create(limit).await?, || {
        "sequential node not created".into()
    });
    h.check(ttl.wait_for_initial_create(limit).await?, || {
        "TTL node not created".into()
    });
    // Neither side touches the TTL child before ttl / 2 (30 s).
    h.dump(&c, &root).await?;
    plain.close().await?;
    seq.close().await?;
    ttl.close().await?;
    c.delete_all(&format!("{root}/app/ttl/node")).await?;
    h.dump_after_reaping(&c, &root).await
}
