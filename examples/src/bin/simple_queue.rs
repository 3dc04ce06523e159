//! A producer offers jobs to a `SimpleQueue` (Curator's
//! `SimpleDistributedQueue` layout, `qn-` items with raw bytes, shared with
//! Java services); two consumers take them until the queue is drained.
//!
//! `cargo run -p examples --bin simple_queue [-- --connect HOSTS] [--count 10]`

use clap::Parser;
use examples::target::{Target, TargetArgs};
use zk_recipes::SimpleQueue;

/// The command line.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    target: TargetArgs,
    /// Jobs the producer offers.
    #[arg(long, default_value_t = 10)]
    count: usize,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let target = Target::new(&args.target, 1).await?;
    println!("simple queue example on an {}", target.describe());
    let count = args.count;
    let producer = target.client("/examples/simple-queue").await?;
    let queue = SimpleQueue::new(&producer, "/jobs");
    for i in 0..count {
        queue.offer(format!("job {i}")).await?;
    }
    println!("producer offered {count} jobs");
    let mut consumers = Vec::new();
    for c in 1..=2 {
        let client = target.client("/examples/simple-queue").await?;
        consumers.push(tokio::spawn(async move {
            let queue = SimpleQueue::new(&client, "/jobs");
            let mut taken = 0;
            while let Some(job) = queue.poll().await? {
                println!("consumer-{c} took {}", String::from_utf8_lossy(&job));
                taken += 1;
            }
            Ok::<_, zk_recipes::Error>(taken)
        }));
    }
    let mut total = 0;
    for c in consumers {
        total += c.await??;
    }
    println!("{total} of {count} jobs taken, each once");
    if total != count {
        return Err("jobs went missing".into());
    }
    Ok(())
}
