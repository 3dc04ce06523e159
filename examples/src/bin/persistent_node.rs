//! A worker registers itself with a `PersistentNode` (an ephemeral node
//! that comes back when deleted or when the session expires) and keeps a
//! `PersistentTtlNode` (a node that outlives the process by its TTL) —
//! Curator's recipes of the same names and layouts.
//!
//! `cargo run -p examples --bin persistent_node [-- --connect HOSTS]`
//! (the TTL part needs a server with `zookeeper.extendedTypesEnabled=true`,
//! as scripts/zk-reference.sh runs it; the in-process server is started
//! without it, so the example then says so and skips that part).

use examples::target::Target;
use std::time::Duration;
use zk_client::CreateMode;
use zk_recipes::{PersistentNode, PersistentTtlNode};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = Target::from_args(1).await?;
    println!("persistent node example on an {}", target.describe());
    let client = target.client("/examples/persistent").await?;
    let node = PersistentNode::new(&client, "/workers/w1", CreateMode::Ephemeral, "ready");
    node.start();
    node.wait_for_initial_create(Duration::from_secs(10))
        .await?;
    println!("registered at {:?}", node.actual_path());

    let admin = target.client("/examples/persistent").await?;
    admin.delete("/workers/w1", None).await?;
    println!("an operator deleted it...");
    let back = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let (stat, watch) = admin.exists_watch("/workers/w1").await?;
            if stat.is_some() {
                return Ok::<_, zk_client::Error>(());
            }
            let _ = watch.await;
        }
    })
    .await?;
    back?;
    println!("...and it is back");
    node.set_data("busy").await?;
    node.close().await?;
    println!("closed: /workers/w1 deleted");

    let ttl = PersistentTtlNode::new(&client, "/state/w1", Duration::from_secs(2), "cursor=42");
    ttl.start();
    match ttl.wait_for_initial_create(Duration::from_secs(3)).await {
        Ok(true) => {
            println!("TTL node /state/w1 created; touched every second while this runs");
            ttl.close().await?;
            println!("closed: it expires 2 s after its last touch");
        }
        _ => println!("this server does not allow TTL nodes (extendedTypesEnabled); skipped"),
    }
    Ok(())
}
