//! Registers a service instance and prints the instances of the service as
//! they change, until Ctrl-C.
//!
//! `cargo run -p examples --bin service_discovery -- --connect HOSTS [--name api] [--port 8080]`

fn arg(name: &str) -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == name {
            return args.next();
        }
    }
    None
}

async fn connect() -> Result<zk_client::Client, Box<dyn std::error::Error>> {
    let hosts = arg("--connect").unwrap_or_else(|| "127.0.0.1:2181".to_string());
    Ok(zk_client::Client::builder(hosts)
        .session_timeout(std::time::Duration::from_secs(6))
        .renew_session_on_expiry(true)
        .connect()
        .await?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    use futures::StreamExt;
    let client = connect().await?;
    let name = arg("--name").unwrap_or_else(|| "api".into());
    let port: u16 = arg("--port").and_then(|s| s.parse().ok()).unwrap_or(8080);
    let discovery = zk_recipes::ServiceDiscovery::new(
        &client,
        arg("--base").unwrap_or_else(|| "/examples/services".into()),
    );
    let me = zk_recipes::ServiceInstance::new(name.clone())
        .with_address("127.0.0.1", port)
        .with_payload(serde_json::json!({ "pid": std::process::id() }));
    discovery.register(&me).await?;
    println!("registered {} as {}", name, me.id);
    let provider = discovery
        .provider(&name, zk_recipes::ProviderStrategy::RoundRobin)
        .await?;
    let mut changes = provider.cache().changes();
    loop {
        tokio::select! {
            set = changes.next() => {
                let Some(set) = set else { break };
                let ids: Vec<_> = set.iter().map(|i| format!("{}:{:?}", i.id, i.port)).collect();
                println!("{name}: {ids:?}; next pick: {:?}", provider.instance().map(|i| i.id));
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    discovery.unregister(&me).await?;
    client.close().await?;
    Ok(())
}
