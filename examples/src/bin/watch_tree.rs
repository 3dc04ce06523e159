//! A persistent recursive watch on a subtree: one stream reports every
//! creation, change and deletion below it, and keeps going.
//!
//! `cargo run -p examples --bin watch_tree [-- --connect HOSTS]`

use examples::target::Target;
use futures::StreamExt;
use zk_client::{AddWatchMode, CreateMode, WatchEvent};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = Target::from_args(1).await?;
    println!("recursive watch example on an {}", target.describe());
    let client = target.client("/examples/watch_tree").await?;
    client
        .create_all("/app", "", CreateMode::Persistent)
        .await?;
    let mut events = client
        .add_watch("/app", AddWatchMode::PersistentRecursive)
        .await?;
    let writer = target.client("/examples/watch_tree").await?;
    writer
        .create("/app/users", "", CreateMode::Persistent)
        .await?;
    writer
        .create("/app/users/ann", "admin", CreateMode::Persistent)
        .await?;
    writer.set_data("/app/users/ann", "viewer", None).await?;
    writer.delete("/app/users/ann", None).await?;
    writer.set_data("/app", "v2", None).await?;
    for _ in 0..5 {
        match events.next().await {
            Some(WatchEvent::Node(e)) => println!("{:?} {}", e.event_type, e.path),
            other => println!("watch ended: {other:?}"),
        }
    }
    println!("5 events from one persistent watch");
    writer.close().await?;
    client.close().await?;
    Ok(())
}
