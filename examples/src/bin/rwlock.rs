//! Takes a read or write lock (`--mode read|write|downgrade`).
//!
//! `cargo run -p examples --bin rwlock -- --connect HOSTS [--mode write] [--hold-ms 2000]`

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
    let client = connect().await?;
    let hold = std::time::Duration::from_millis(
        arg("--hold-ms")
            .and_then(|s| s.parse().ok())
            .unwrap_or(2000),
    );
    let rw = zk_recipes::ReadWriteLock::new(
        &client,
        arg("--path").unwrap_or_else(|| "/examples/rwlock".into()),
    );
    match arg("--mode").as_deref().unwrap_or("write") {
        "read" => {
            let g = rw.read().await?;
            println!("reading ({})", g.node_path());
            tokio::time::sleep(hold).await;
            g.release().await?;
        }
        "downgrade" => {
            let w = rw.write().await?;
            println!("writing ({})", w.node_path());
            tokio::time::sleep(hold).await;
            let r = rw.downgrade(w).await?;
            println!("downgraded: reading ({})", r.node_path());
            tokio::time::sleep(hold).await;
            r.release().await?;
        }
        _ => {
            let g = rw.write().await?;
            println!("writing ({})", g.node_path());
            tokio::time::sleep(hold).await;
            g.release().await?;
        }
    }
    client.close().await?;
    Ok(())
}
