//! Clients of a service pick instances through a `ServiceProvider`: a
//! sticky provider keeps using one instance until it is reported down
//! (Curator's `StickyStrategy` and `DownInstancePolicy`) or leaves.
//!
//! `cargo run -p examples --bin service_provider [-- --connect HOSTS]`

use examples::target::Target;
use zk_recipes::{DownInstancePolicy, ProviderStrategy, ServiceDiscovery, ServiceInstance};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = Target::from_args(1).await?;
    println!("service provider example on an {}", target.describe());
    let servers = target.client("/examples/provider").await?;
    let registry = ServiceDiscovery::new(&servers, "/services");
    for i in 1..=3 {
        let instance = ServiceInstance::new("search")
            .with_id(format!("search-{i}"))
            .with_address(format!("10.0.0.{i}"), 9200);
        registry.register(&instance).await?;
    }
    let client = target.client("/examples/provider").await?;
    let provider = ServiceDiscovery::new(&client, "/services")
        .provider("search", ProviderStrategy::sticky(ProviderStrategy::Random))
        .await?
        .with_down_instance_policy(DownInstancePolicy::default());
    let first = provider.instance().ok_or("no instance")?;
    println!("calls go to {} (sticky)", first.id);
    for _ in 0..3 {
        assert_eq!(provider.instance().map(|i| i.id), Some(first.id.clone()));
    }
    // Two failed calls: the instance is down for 30 s; the provider moves on.
    provider.note_error(&first);
    provider.note_error(&first);
    let next = provider.instance().ok_or("no instance")?;
    println!("{} failed twice; calls now go to {}", first.id, next.id);
    assert_ne!(next.id, first.id);
    println!("{} instances chosen so far", provider.sticky_choices());
    Ok(())
}
