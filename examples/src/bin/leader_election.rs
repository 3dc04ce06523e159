//! Runs a task while leader; the task is cancelled when leadership is lost
//! and the participant queues again. Stops on Ctrl-C.
//!
//! `cargo run -p examples --bin leader_election -- --connect HOSTS [--id me] [--term-ms 3000]`

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
    let term: u64 = arg("--term-ms")
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let who = id.clone();
    let election = zk_recipes::LeaderElection::new(
        &client,
        arg("--path").unwrap_or_else(|| "/examples/election".into()),
    )
    .with_id(id)
    .auto_requeue(true)
    .run(move |leadership| {
        let who = who.clone();
        async move {
            println!(
                "{who}: leading (term {}, token {})",
                leadership.term(),
                leadership.fencing_token()
            );
            tokio::time::sleep(std::time::Duration::from_millis(term)).await;
            println!("{who}: stepping down");
        }
    });
    tokio::signal::ctrl_c().await?;
    election.stop().await;
    client.close().await?;
    Ok(())
}
