//! Produces or consumes queue items (`--role producer|consumer`); the
//! consumer uses the locking mode and acknowledges each item.
//!
//! `cargo run -p examples --bin queue -- --connect HOSTS --role producer [--count 10]`
//! `cargo run -p examples --bin queue -- --connect HOSTS --role consumer [--count 10]`

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
    let count: usize = arg("--count").and_then(|s| s.parse().ok()).unwrap_or(10);
    let queue = zk_recipes::Queue::new(
        &client,
        arg("--path").unwrap_or_else(|| "/examples/queue".into()),
    );
    if arg("--role").as_deref() == Some("producer") {
        for i in 0..count {
            let name = queue.put(format!("job {i}")).await?;
            println!("put {name}");
        }
    } else {
        for _ in 0..count {
            let item = queue.take_locked().await?;
            println!(
                "processing {}: {}",
                item.path(),
                String::from_utf8_lossy(item.data())
            );
            item.ack().await?;
        }
        println!("{:?}", queue.stats());
    }
    client.close().await?;
    Ok(())
}
