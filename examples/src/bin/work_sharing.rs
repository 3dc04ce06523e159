//! kazoo's work-sharing recipes, shared with Python services: a
//! `NonBlockingLease` lets one of three hosts run an hourly job (the others
//! skip it), and a `SetPartitioner` divides twelve shards among the three.
//!
//! `cargo run -p examples --bin work_sharing [-- --connect HOSTS]`

use examples::target::Target;
use std::time::Duration;
use zk_recipes::{NonBlockingLease, SetPartitioner};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = Target::from_args(1).await?;
    println!("work sharing example on an {}", target.describe());
    let shards: Vec<String> = (0..12).map(|i| format!("shard-{i:02}")).collect();
    let mut hosts = Vec::new();
    for h in 1..=3 {
        let client = target.client("/examples/work").await?;
        let shards = shards.clone();
        hosts.push(tokio::spawn(async move {
            let me = format!("host-{h}");
            let hour = Duration::from_secs(3600);
            if NonBlockingLease::obtain(&client, "/leases/hourly-report", hour, &me).await? {
                println!("{me} holds the hourly-report lease: runs the report");
            }
            let partitioner = SetPartitioner::start(&client, "/shards", shards, me.clone())?
                .with_time_boundary(Duration::from_millis(500));
            let mut mine = partitioner.wait_for_acquire().await?;
            // A division made before all three joined is followed by a
            // release; wait for the division of the full group.
            while mine.len() != 4 {
                let mut state = partitioner.state();
                state
                    .wait_for(|s| *s != zk_recipes::PartitionState::Acquired)
                    .await?;
                partitioner.release_set().await?;
                mine = partitioner.wait_for_acquire().await?;
            }
            println!("{me} owns {mine:?}");
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((partitioner, mine))
        }));
    }
    let mut owned = Vec::new();
    let mut partitioners = Vec::new();
    for h in hosts {
        let (p, mine) = h.await?.map_err(|e| e.to_string())?;
        owned.extend(mine);
        partitioners.push(p);
    }
    owned.sort();
    println!("every shard owned exactly once: {}", owned == shards);
    for p in partitioners {
        p.finish().await?;
    }
    Ok(())
}
