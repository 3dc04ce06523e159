//! Takes one of N leases of a semaphore.
//!
//! `cargo run -p examples --bin semaphore -- --connect HOSTS [--leases 2] [--hold-ms 2000]`

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
    let leases: usize = arg("--leases").and_then(|s| s.parse().ok()).unwrap_or(2);
    let hold: u64 = arg("--hold-ms")
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let sem = zk_recipes::Semaphore::new(
        &client,
        arg("--path").unwrap_or_else(|| "/examples/semaphore".into()),
        leases,
    )?;
    println!("waiting for one of {leases} leases...");
    let lease = sem.acquire().await?;
    println!(
        "got {}; holders now: {}",
        lease.node_path(),
        sem.participants().await?.len()
    );
    tokio::time::sleep(std::time::Duration::from_millis(hold)).await;
    lease.release().await?;
    client.close().await?;
    Ok(())
}
