//! Three workers, each with its own session, take turns on one lock; each
//! holder gets a larger fencing token, which a storage system can use to
//! reject a stale holder's writes.
//!
//! `cargo run -p examples --bin lock [-- --connect HOSTS]`

use examples::target::Target;
use std::time::Duration;
use zk_recipes::Lock;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = Target::from_args(1).await?;
    println!("lock example on an {}", target.describe());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut workers = Vec::new();
    for w in 1..=3 {
        let client = target.client("/examples/lock").await?;
        let tx = tx.clone();
        workers.push(tokio::spawn(async move {
            let lock = Lock::new(&client, "/reindex");
            let guard = lock.acquire().await?;
            println!(
                "worker-{w} acquired the lock (fencing token {:#x})",
                guard.fencing_token()
            );
            tx.send(guard.fencing_token()).ok();
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                reason = guard.lost() => println!("worker-{w} lost the lock: {reason}"),
            }
            guard.release().await?;
            println!("worker-{w} released it");
            client.close().await?;
            Ok::<_, zk_recipes::Error>(())
        }));
    }
    drop(tx);
    for w in workers {
        w.await??;
    }
    let mut tokens = Vec::new();
    while let Some(t) = rx.recv().await {
        tokens.push(t);
    }
    println!(
        "3 holders, one at a time; fencing tokens increased: {}",
        tokens.windows(2).all(|p| p[0] < p[1])
    );
    Ok(())
}
