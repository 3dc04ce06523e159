//! Failed jobs are retried later through a `DelayQueue` (Curator's
//! `DistributedDelayQueue` layout), and pending notifications sit in an
//! `IdQueue` (Curator's `DistributedIdQueue`) where one can be withdrawn by
//! its id before anyone takes it.
//!
//! `cargo run -p examples --bin delay_queue [-- --connect HOSTS]`

use examples::target::Target;
use std::time::{Duration, Instant};
use zk_recipes::{DelayQueue, IdQueue};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = Target::from_args(1).await?;
    println!("delay/id queue example on an {}", target.describe());
    let client = target.client("/examples/delay").await?;

    let retries = DelayQueue::new(&client, "/retries");
    let start = Instant::now();
    retries
        .put_after("job-7 (attempt 2)", Duration::from_millis(300))
        .await?;
    retries
        .put_after("job-3 (attempt 2)", Duration::from_millis(100))
        .await?;
    for _ in 0..2 {
        let job = retries.take().await?;
        println!(
            "{:>4} ms: retrying {}",
            start.elapsed().as_millis(),
            String::from_utf8_lossy(&job)
        );
    }

    let outbox = IdQueue::new(&client, "/outbox");
    outbox.put("welcome mail for ann", "user-ann").await?;
    outbox.put("welcome mail for bob", "user-bob").await?;
    let withdrawn = outbox.remove("user-bob").await?;
    println!("bob unsubscribed: {withdrawn} pending mail withdrawn");
    while let Some(mail) = outbox.poll().await? {
        println!("sending {}", String::from_utf8_lossy(&mail));
    }
    Ok(())
}
