//! Three participants start a leader latch; one leads. When it leaves,
//! another takes over — never two at once.
//!
//! `cargo run -p examples --bin leader_latch [-- --connect HOSTS]`

use examples::target::Target;
use zk_recipes::LeaderLatch;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = Target::from_args(1).await?;
    println!("leader latch example on an {}", target.describe());
    let mut clients = Vec::new();
    let mut latches = Vec::new();
    for i in 1..=3 {
        let client = target.client("/examples/leader_latch").await?;
        let latch = LeaderLatch::new(&client, "/scheduler", format!("node-{i}"));
        latch.start();
        clients.push(client);
        latches.push(latch);
    }
    // Once each has joined, every participant is listed.
    for latch in &latches {
        latch.joined().await?;
    }
    let participants = latches[0].participants().await?;
    println!("{} participants", participants.len());
    let first = wait_for_leader(&latches).await;
    println!(
        "{} leads (fencing token {:?}); the others follow",
        latches[first].id(),
        latches[first].fencing_token()
    );
    latches[first].close().await?;
    println!("{} stepped down", latches[first].id());
    let second = wait_for_leader(&latches).await;
    println!("{} leads now", latches[second].id());
    let leaders = latches.iter().filter(|l| l.is_leader()).count();
    println!("leaders at once: {leaders}");
    for (latch, client) in latches.iter().zip(&clients) {
        latch.close().await?;
        client.close().await?;
    }
    Ok(())
}

async fn wait_for_leader(latches: &[LeaderLatch]) -> usize {
    loop {
        if let Some(i) = latches.iter().position(|l| l.is_leader()) {
            return i;
        }
        let mut rx: Vec<_> = latches.iter().map(|l| l.leadership()).collect();
        let _ = futures::future::select_all(rx.iter_mut().map(|r| Box::pin(r.changed()))).await;
    }
}
