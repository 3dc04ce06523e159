//! Takes a distributed lock, holds it for a while, releases it.
//!
//! `cargo run -p examples --bin lock -- --connect HOSTS [--path /examples/lock] [--hold-ms 2000]`
//!
//! Run several at once: they take turns, each with a larger fencing token.

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
    let path = arg("--path").unwrap_or_else(|| "/examples/lock".into());
    let hold: u64 = arg("--hold-ms")
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let lock = zk_recipes::Lock::new(&client, path);
    println!("waiting for the lock...");
    let guard = lock.acquire().await?;
    println!(
        "acquired {} (fencing token {})",
        guard.node_path(),
        guard.fencing_token()
    );
    tokio::select! {
        _ = tokio::time::sleep(std::time::Duration::from_millis(hold)) => println!("done, releasing"),
        reason = guard.lost() => println!("lock lost: {reason}"),
    }
    guard.release().await?;
    client.close().await?;
    Ok(())
}
