//! Four workers, each with its own session, count page hits in one
//! `DistributedAtomicLong` (Curator's format: a Java service's
//! `DistributedAtomicLong` on the same path shares the count). With one
//! optimistic try each, contention promotes changes to the shared lock.
//!
//! `cargo run -p examples --bin atomic_long [-- --connect HOSTS] [--hits 25]`

use clap::Parser;
use examples::target::{Target, TargetArgs};
use std::time::Duration;
use zk_recipes::{DistributedAtomicLong, PromotedToLock};

/// The command line.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    target: TargetArgs,
    /// Page hits each worker counts.
    #[arg(long, default_value_t = 25)]
    hits: i64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let target = Target::new(&args.target, 1).await?;
    println!("atomic long example on an {}", target.describe());
    let hits = args.hits;
    let mut workers = Vec::new();
    for w in 1..=4 {
        let client = target.client("/examples/atomic").await?;
        workers.push(tokio::spawn(async move {
            let counter = DistributedAtomicLong::new(&client, "/hits")
                .optimistic_tries(1)
                .promoted_to_lock(
                    PromotedToLock::new("/hits-lock", Duration::from_secs(10)).tries(20),
                );
            let mut promoted = 0;
            for _ in 0..hits {
                loop {
                    let outcome = counter.increment().await?;
                    promoted += outcome.stats.promoted_tries;
                    if outcome.succeeded {
                        break;
                    }
                }
            }
            println!("worker-{w} counted {hits} hits ({promoted} tries under the lock)");
            client.close().await?;
            Ok::<_, zk_recipes::Error>(())
        }));
    }
    for w in workers {
        w.await??;
    }
    let client = target.client("/examples/atomic").await?;
    let total = DistributedAtomicLong::new(&client, "/hits").get().await?;
    println!("total: {total} (expected {})", 4 * hits);
    if total != 4 * hits {
        return Err("lost an increment".into());
    }
    Ok(())
}
