//! Three instances of a service register; a cache and a round-robin
//! provider follow them; one instance leaves and the cache sees it go.
//!
//! `cargo run -p examples --bin service_discovery [-- --connect HOSTS]`

use examples::target::Target;
use zk_recipes::{ProviderStrategy, ServiceDiscovery, ServiceInstance};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = Target::from_args(1).await?;
    println!("service discovery example on an {}", target.describe());
    let mut servers = Vec::new();
    for (i, port) in [(1, 8081), (2, 8082), (3, 8083)] {
        let client = target.client("/examples/discovery").await?;
        let discovery = ServiceDiscovery::new(&client, "/services");
        let instance = ServiceInstance::new("search")
            .with_id(format!("search-{i}"))
            .with_address("10.1.0.7", port)
            .with_payload(serde_json::json!({"zone": format!("z{i}")}));
        discovery.register(&instance).await?;
        println!("registered search-{i} at 10.1.0.7:{port}");
        servers.push((client, discovery, instance));
    }
    let client = target.client("/examples/discovery").await?;
    let discovery = ServiceDiscovery::new(&client, "/services");
    let provider = discovery
        .provider("search", ProviderStrategy::RoundRobin)
        .await?;
    let picks: Vec<String> = (0..4)
        .filter_map(|_| provider.instance().map(|i| i.id))
        .collect();
    println!("round-robin picks: {picks:?}");
    let cache = provider.cache();
    let mut changes = cache.subscribe();
    let (leaving_client, leaving, instance) = servers.remove(1);
    leaving.unregister(&instance).await?;
    leaving_client.close().await?;
    println!("search-2 unregistered");
    while cache.instances().len() != 2 {
        changes.changed().await?;
    }
    let mut ids: Vec<String> = cache.instances().into_iter().map(|i| i.id).collect();
    ids.sort();
    println!("the cache now sees {ids:?}");
    for (c, _, _) in servers {
        c.close().await?;
    }
    client.close().await?;
    Ok(())
}
