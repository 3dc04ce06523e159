//! Atomic transactions: several writes applied together, and a failing
//! transaction that applies nothing and says which op failed.
//!
//! `cargo run -p examples --bin multi [-- --connect HOSTS]`

use examples::target::Target;
use zk_client::{CreateMode, Op};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = Target::from_args(1).await?;
    println!("multi example on an {}", target.describe());
    let client = target.client("/examples/multi").await?;
    client
        .create("/accounts", "", CreateMode::Persistent)
        .await?;
    client
        .create("/accounts/alice", "100", CreateMode::Persistent)
        .await?;
    client
        .create("/accounts/bob", "0", CreateMode::Persistent)
        .await?;
    // Move 30 from alice to bob, only if nobody changed either meanwhile.
    let (_, alice) = client.get_data("/accounts/alice").await?;
    let (_, bob) = client.get_data("/accounts/bob").await?;
    let results = client
        .multi(vec![
            Op::set_data("/accounts/alice", "70", Some(alice.version)),
            Op::set_data("/accounts/bob", "30", Some(bob.version)),
            Op::create(
                "/accounts/log-",
                "alice->bob 30",
                CreateMode::PersistentSequential,
            ),
        ])
        .await?;
    println!("transfer applied atomically: {} ops", results.len());
    // The same transfer again with the old versions: it must fail whole.
    let err = client
        .multi(vec![
            Op::set_data("/accounts/alice", "40", Some(alice.version)),
            Op::set_data("/accounts/bob", "60", Some(bob.version)),
        ])
        .await
        .expect_err("stale versions");
    println!("stale transfer refused: {err}");
    println!(
        "per-op results: {:?}",
        err.multi_failures().unwrap_or_default()
    );
    let (a, _) = client.get_data("/accounts/alice").await?;
    let (b, _) = client.get_data("/accounts/bob").await?;
    println!(
        "balances: alice={} bob={} (nothing of the failed transaction applied)",
        String::from_utf8_lossy(&a),
        String::from_utf8_lossy(&b)
    );
    client.close().await?;
    Ok(())
}
