//! Five workers share a semaphore with two leases: never more than two work
//! at once.
//!
//! `cargo run -p examples --bin semaphore [-- --connect HOSTS]`

use examples::target::Target;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use zk_recipes::Semaphore;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = Target::from_args(1).await?;
    println!("semaphore example on an {}", target.describe());
    let busy = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for w in 1..=5 {
        let client = target.client("/examples/semaphore").await?;
        let (busy, most) = (busy.clone(), most.clone());
        workers.push(tokio::spawn(async move {
            let sem = Semaphore::new(&client, "/render-slots", 2)?;
            let lease = sem.acquire().await?;
            let now = busy.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            println!("worker-{w} got a lease ({now} busy)");
            tokio::time::sleep(Duration::from_millis(30)).await;
            busy.fetch_sub(1, Ordering::SeqCst);
            lease.release().await?;
            client.close().await?;
            Ok::<_, zk_recipes::Error>(())
        }));
    }
    for w in workers {
        w.await??;
    }
    println!(
        "5 workers done; at most {} worked at once (limit 2)",
        most.load(Ordering::SeqCst)
    );
    Ok(())
}
