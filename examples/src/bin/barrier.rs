//! A barrier holds three workers until a coordinator lifts it; then a
//! double barrier lets the three start together and finish together.
//!
//! `cargo run -p examples --bin barrier [-- --connect HOSTS]`

use examples::target::Target;
use zk_recipes::{Barrier, DoubleBarrier};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = Target::from_args(1).await?;
    println!("barrier example on an {}", target.describe());
    let coordinator = target.client("/examples/barrier").await?;
    let gate = Barrier::new(&coordinator, "/gate");
    gate.set().await?;
    println!("coordinator set the barrier");
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut workers = Vec::new();
    for w in 1..=3 {
        let client = target.client("/examples/barrier").await?;
        let ready_tx = ready_tx.clone();
        workers.push(tokio::spawn(async move {
            let gate = Barrier::new(&client, "/gate");
            ready_tx.send(w).ok();
            gate.wait().await?;
            println!("worker-{w} passed the barrier");
            let round = DoubleBarrier::new(&client, "/round", 3);
            round.enter().await?;
            println!("worker-{w} entered the round (all 3 are in)");
            round.leave().await?;
            println!("worker-{w} left the round (all 3 are out)");
            client.close().await?;
            Ok::<_, zk_recipes::Error>(())
        }));
    }
    for _ in 0..3 {
        ready_rx.recv().await;
    }
    println!("3 workers wait at the barrier; lifting it");
    gate.remove().await?;
    for w in workers {
        w.await??;
    }
    coordinator.close().await?;
    println!("all workers finished the round together");
    Ok(())
}
