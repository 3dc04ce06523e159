//! A dashboard follows the workers registered under `/workers` with a
//! `PathChildrenCache` (Curator's recipe of that name, one-shot watches,
//! any ZooKeeper version) and the whole `/config` tree with a
//! `CuratorCache` (a persistent recursive watch where the server has them,
//! one-shot watches on ZooKeeper 3.5).
//!
//! `cargo run -p examples --bin children_cache [-- --connect HOSTS]`

use examples::target::Target;
use futures::StreamExt;
use zk_client::CreateMode;
use zk_recipes::{ChildEvent, CuratorCache, PathChildrenCache};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = Target::from_args(1).await?;
    println!("children cache example on an {}", target.describe());
    let dashboard = target.client("/examples/caches").await?;
    let workers = PathChildrenCache::start(&dashboard, "/workers").await?;
    let config = CuratorCache::start(&dashboard, "/config").await?;
    println!("config cache watching with {:?}", config.mode());
    let mut events = workers.events();
    let printer = tokio::spawn(async move {
        // Changes as the cache applies them (quick ones may be coalesced:
        // a worker that came and went between two reads is never seen).
        while let Some(event) = events.next().await {
            match event {
                ChildEvent::Added(name, d) => {
                    println!("+ {name} ({})", String::from_utf8_lossy(&d.data))
                }
                ChildEvent::Updated(name, d) => {
                    println!("~ {name} ({})", String::from_utf8_lossy(&d.data))
                }
                ChildEvent::Removed(name) => println!("- {name}"),
                ChildEvent::Reloaded => println!("(re-read)"),
                ChildEvent::Gap { missed } => println!("({missed} events missed)"),
            }
        }
    });

    let fleet = target.client("/examples/caches").await?;
    for w in 1..=3 {
        fleet
            .create_all(&format!("/workers/w{w}"), "idle", CreateMode::Ephemeral)
            .await?;
    }
    fleet.set_data("/workers/w2", "busy", None).await?;
    fleet.delete("/workers/w3", None).await?;
    fleet
        .create_all("/config/db/url", "pg://db:5432", CreateMode::Persistent)
        .await?;

    let mut changes = workers.version();
    changes
        .wait_for(|_| {
            let now = workers.current();
            now.len() == 2 && now.get("w2").is_some_and(|d| d.data.as_ref() == b"busy")
        })
        .await?;
    let names: Vec<String> = workers.current().into_keys().collect();
    println!("workers now: {names:?}");
    let mut version = config.version();
    version
        .wait_for(|_| config.get("/config/db/url").is_some())
        .await?;
    println!("config /config/db/url = pg://db:5432 (cached)");
    printer.abort();
    Ok(())
}
