//! A double barrier: start `--members N` copies; all enter together, work,
//! and leave together.
//!
//! `cargo run -p examples --bin barrier -- --connect HOSTS [--members 3]`

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
    let members: usize = arg("--members").and_then(|s| s.parse().ok()).unwrap_or(3);
    let barrier = zk_recipes::DoubleBarrier::new(
        &client,
        arg("--path").unwrap_or_else(|| "/examples/barrier".into()),
        members,
    );
    println!("entering (waiting for {members} members)...");
    barrier.enter().await?;
    println!("all in; working");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    barrier.leave().await?;
    println!("all out");
    client.close().await?;
    Ok(())
}
