//! Three candidates run a leader task in turn: each term does a piece of
//! work and ends, and the candidate queues again. A term's task is
//! cancelled if its leadership is lost.
//!
//! `cargo run -p examples --bin leader_election [-- --connect HOSTS]`

use examples::target::Target;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use zk_recipes::LeaderElection;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = Target::from_args(1).await?;
    println!("leader election example on an {}", target.describe());
    let leading = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut handles = Vec::new();
    let mut clients = Vec::new();
    for c in 1..=3 {
        let client = target.client("/examples/leader_election").await?;
        let (leading, most, done_tx) = (leading.clone(), most.clone(), done_tx.clone());
        let handle = LeaderElection::new(&client, "/compactor")
            .with_id(format!("candidate-{c}"))
            .auto_requeue(true)
            .run(move |leadership| {
                let (leading, most, done_tx) = (leading.clone(), most.clone(), done_tx.clone());
                async move {
                    let now = leading.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    println!(
                        "candidate-{c} leads (term {}, fencing token {:#x})",
                        leadership.term(),
                        leadership.fencing_token()
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    leading.fetch_sub(1, Ordering::SeqCst);
                    let _ = done_tx.send(c);
                }
            });
        handles.push(handle);
        clients.push(client);
    }
    let mut terms = 0;
    while terms < 6 {
        if done_rx.recv().await.is_none() {
            break;
        }
        terms += 1;
    }
    for h in handles {
        h.stop().await;
    }
    for c in clients {
        c.close().await?;
    }
    println!(
        "{terms} terms ran; at most {} leader at a time",
        most.load(Ordering::SeqCst)
    );
    Ok(())
}
