//! Joins a leader latch and reports leadership changes until Ctrl-C.
//!
//! `cargo run -p examples --bin leader_latch -- --connect HOSTS [--id me]`

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
    let id = arg("--id").unwrap_or_else(|| format!("pid-{}", std::process::id()));
    let latch = zk_recipes::LeaderLatch::new(
        &client,
        arg("--path").unwrap_or_else(|| "/examples/latch".into()),
        id.clone(),
    );
    latch.start();
    let mut leadership = latch.leadership();
    println!(
        "{id}: joined; leader now: {:?}",
        latch.leader().await?.map(|p| p.id)
    );
    loop {
        tokio::select! {
            changed = leadership.changed() => {
                if changed.is_err() { break }
                println!("{id}: leader = {}", *leadership.borrow());
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    latch.close().await?;
    client.close().await?;
    Ok(())
}
