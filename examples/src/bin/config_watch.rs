//! A typed configuration node: `--set N` updates it (compare-and-set),
//! without it the program prints every change until Ctrl-C.
//!
//! `cargo run -p examples --bin config_watch -- --connect HOSTS [--set 42]`

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

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Settings {
    max_connections: u32,
    updated_by: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    use futures::StreamExt;
    let client = connect().await?;
    let config = zk_recipes::ConfigNode::<Settings>::start(
        &client,
        arg("--path").unwrap_or_else(|| "/examples/config".into()),
    )
    .await?;
    if let Some(n) = arg("--set").and_then(|s| s.parse().ok()) {
        let written = config
            .update(|_| Settings {
                max_connections: n,
                updated_by: format!("pid-{}", std::process::id()),
            })
            .await?;
        println!("wrote version {}: {:?}", written.version, written.value);
    } else {
        let mut changes = config.changes();
        loop {
            tokio::select! {
                value = changes.next() => match value {
                    Some(Ok(Some(v))) => println!("version {}: {:?}", v.version, v.value),
                    Some(Ok(None)) => println!("(not set)"),
                    Some(Err(e)) => println!("unreadable: {e}"),
                    None => break,
                },
                _ = tokio::signal::ctrl_c() => break,
            }
        }
    }
    client.close().await?;
    Ok(())
}
