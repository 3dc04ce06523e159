//! A typed configuration node: a watcher follows every change, and two
//! writers update it with compare-and-set, so neither overwrites the other.
//!
//! `cargo run -p examples --bin config_watch [-- --connect HOSTS]`

use examples::target::Target;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use zk_recipes::ConfigNode;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RateLimits {
    requests_per_second: u32,
    burst: u32,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = Target::from_args(1).await?;
    println!("config watch example on an {}", target.describe());
    let watcher_client = target.client("/examples/config").await?;
    let node: ConfigNode<RateLimits> = ConfigNode::start(&watcher_client, "/limits").await?;
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let watcher = {
        let mut changes = Box::pin(node.changes());
        tokio::spawn(async move {
            while let Some(change) = changes.next().await {
                if let Ok(Some(v)) = change {
                    println!("watcher: version {} = {:?}", v.version, v.value);
                    if seen_tx.send(v.value.requests_per_second).is_err() {
                        return;
                    }
                }
            }
        })
    };
    node.set(&RateLimits {
        requests_per_second: 100,
        burst: 10,
    })
    .await?;
    while seen_rx.recv().await != Some(100) {}
    // Two writers raise the limits concurrently; compare-and-set makes
    // each update apply on top of the other.
    let mut writers = Vec::new();
    for (name, extra) in [("writer-a", 50), ("writer-b", 25)] {
        let client = target.client("/examples/config").await?;
        writers.push(tokio::spawn(async move {
            let node: ConfigNode<RateLimits> = ConfigNode::start(&client, "/limits").await?;
            let new = node
                .update(|old| {
                    let old = old.unwrap_or(RateLimits {
                        requests_per_second: 0,
                        burst: 0,
                    });
                    RateLimits {
                        requests_per_second: old.requests_per_second + extra,
                        burst: old.burst + 1,
                    }
                })
                .await?;
            println!("{name} raised the limit (version {})", new.version);
            client.close().await?;
            Ok::<_, zk_recipes::Error>(())
        }));
    }
    for w in writers {
        w.await??;
    }
    while seen_rx.recv().await != Some(175) {}
    watcher.abort();
    println!("final limit: 175 requests/s (100 + 50 + 25: no update lost)");
    watcher_client.close().await?;
    Ok(())
}
