//! A producer enqueues jobs; two consumers take them with the locking
//! (at-least-once) consumer and acknowledge each once processed.
//!
//! `cargo run -p examples --bin queue [-- --connect HOSTS] [--count 20]`

use clap::Parser;
use examples::target::{Target, TargetArgs};
use std::collections::BTreeSet;
use zk_recipes::Queue;

/// The command line.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    target: TargetArgs,
    /// Jobs the producer queues.
    #[arg(long, default_value_t = 20)]
    count: usize,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let target = Target::new(&args.target, 1).await?;
    println!("queue example on an {}", target.describe());
    let count = args.count;
    let producer = target.client("/examples/queue").await?;
    let queue = Queue::new(&producer, "/jobs");
    for i in 0..count {
        queue.put(format!("job {i}")).await?;
    }
    println!("producer queued {count} jobs");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut consumers = Vec::new();
    for c in 1..=2 {
        let client = target.client("/examples/queue").await?;
        let tx = tx.clone();
        consumers.push(tokio::spawn(async move {
            let queue = Queue::new(&client, "/jobs");
            while let Some(item) = queue.try_take_locked().await? {
                let job = String::from_utf8_lossy(item.data()).to_string();
                item.ack().await?;
                tx.send((c, job)).ok();
            }
            client.close().await?;
            Ok::<_, zk_recipes::Error>(())
        }));
    }
    drop(tx);
    for c in consumers {
        c.await??;
    }
    let mut done = BTreeSet::new();
    let mut per_consumer = [0usize; 2];
    while let Some((c, job)) = rx.recv().await {
        per_consumer[c - 1] += 1;
        done.insert(job);
    }
    println!(
        "consumers processed {} distinct jobs (consumer-1: {}, consumer-2: {}); queue empty: {}",
        done.len(),
        per_consumer[0],
        per_consumer[1],
        queue.is_empty().await?
    );
    producer.close().await?;
    Ok(())
}
